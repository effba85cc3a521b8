// test_upgrade_response.cpp - the broker's answer to GET /v1/subscribe.
#include <gtest/gtest.h>

#include <string>

#include "broker/upgrade_response.hpp"

namespace nanotime::broker {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

constexpr char kSwitching[] =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
    "Upgrade: nanotime-subscription/1\r\n\r\n";

TEST(UpgradeRequest, NamesTheProtocolAndHost) {
    EXPECT_EQ(upgrade_request("broker.example", 4461),
              "GET /v1/subscribe HTTP/1.1\r\nHost: broker.example:4461\r\n"
              "Connection: Upgrade\r\nUpgrade: nanotime-subscription/1\r\n\r\n");
    EXPECT_NE(upgrade_request("::1", 443).find("Host: [::1]\r\n"), std::string::npos);
}

TEST(UpgradeResponse, SwitchingKeepsTheBytesAfterTheHeader) {
    UpgradeResponse r;
    const std::string all = std::string(kSwitching) + std::string("\x00\x00\x00\x02{}", 6);
    // In pieces: the header split anywhere still parses once whole.
    EXPECT_EQ(r.feed(bytes(all.substr(0, 20))), UpgradeResponse::Status::NeedMore);
    EXPECT_EQ(r.feed(bytes(all.substr(20, 40))), UpgradeResponse::Status::NeedMore);
    ASSERT_EQ(r.feed(bytes(all.substr(60))), UpgradeResponse::Status::Upgraded) << r.reason();
    EXPECT_EQ(r.status_code(), 101u);
    EXPECT_EQ(std::string(r.leftover().begin(), r.leftover().end()),
              std::string("\x00\x00\x00\x02{}", 6));
}

TEST(UpgradeResponse, RefusalNamesTheStatus) {
    UpgradeResponse r;
    EXPECT_EQ(r.feed(bytes("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden")),
              UpgradeResponse::Status::Refused);
    EXPECT_EQ(r.status_code(), 403u);
    EXPECT_EQ(r.reason(), "broker refused the subscription: 403 Forbidden");
}

TEST(UpgradeResponse, SwitchingToAnotherProtocolIsMalformed) {
    UpgradeResponse r;
    EXPECT_EQ(r.feed(bytes("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                           "Upgrade: websocket\r\n\r\n")),
              UpgradeResponse::Status::Malformed);
    EXPECT_EQ(r.reason(), "101 without 'Upgrade: nanotime-subscription/1'");
}

TEST(UpgradeResponse, GarbageAndEndlessHeadersAreMalformed) {
    UpgradeResponse garbage;
    EXPECT_EQ(garbage.feed(bytes("SSH-2.0-OpenSSH\r\n\r\n")), UpgradeResponse::Status::Malformed);
    UpgradeResponse old;
    EXPECT_EQ(old.feed(bytes("HTTP/1.0 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                             "Upgrade: nanotime-subscription/1\r\n\r\n")),
              UpgradeResponse::Status::Malformed);
    UpgradeResponse endless;
    EXPECT_EQ(endless.feed(bytes("HTTP/1.1 101 OK\r\n")), UpgradeResponse::Status::NeedMore);
    const std::string line = "X-Filler: " + std::string(100, 'a') + "\r\n";
    UpgradeResponse::Status s = UpgradeResponse::Status::NeedMore;
    for (int i = 0; i < 200 && s == UpgradeResponse::Status::NeedMore; ++i)
        s = endless.feed(bytes(line));
    EXPECT_EQ(s, UpgradeResponse::Status::Malformed) << "the header is bounded (8 KiB)";
}

}  // namespace
}  // namespace nanotime::broker
