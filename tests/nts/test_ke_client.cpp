// NTS-KE client state machine: the request it writes, every way a response
// can fail, and whole exchanges against KeServerSession with fakes.
#include <gtest/gtest.h>

#include "ke_test_support.hpp"
#include "nts/ke_client.hpp"
#include "nts/ke_server.hpp"

namespace nts {
namespace {

using test::Bytes;
using test::cat;
using test::eom;
using test::FakeCookieSource;
using test::rec;
using test::text;

const Bytes kNtpv4 = rec(true, 1, {0, 0});
const Bytes kSivChosen = rec(true, 4, {0, 15});
const Bytes kCookie = rec(false, 5, Bytes(64, 0xab));

// A client offering AES-SIV-CMAC-256 only (as chrony 4.3 and NTPsec 1.2
// do): the responses below choose 15.
KeClientConfig config_for(std::string host = "ke.example.net") {
    KeClientConfig config;
    config.ke_host = std::move(host);
    config.aead_algorithms = {15};
    return config;
}

KeClientSession fed(const Bytes& response, KeClientConfig config = config_for(), size_t chunk = 0) {
    KeClientSession client(std::move(config), test::fake_exporter());
    if (chunk == 0) chunk = std::max<size_t>(response.size(), 1);
    for (size_t at = 0; at < response.size(); at += chunk) {
        client.feed(
            std::span<const uint8_t>(response).subspan(at, std::min(chunk, response.size() - at)));
    }
    return client;
}

TEST(KeClient, RequestIsProtocolAeadListEndOfMessage) {
    KeClientConfig config = config_for();
    config.aead_algorithms = {30, 15};
    const KeClientSession client(config, test::fake_exporter());
    EXPECT_EQ(client.request(), (Bytes{0x80, 0x01, 0x00, 0x02, 0x00, 0x00,              //
                                       0x80, 0x04, 0x00, 0x04, 0x00, 0x1e, 0x00, 0x0f,  //
                                       0x80, 0x00, 0x00, 0x00}));
    EXPECT_EQ(client.status(), KeClientStatus::NeedMore);
}

TEST(KeClient, DefaultOfferPrefersGcmSivThenSiv) {
    KeClientConfig config;
    config.ke_host = "ke.example.net";
    const KeClientSession client(config, test::fake_exporter());
    EXPECT_EQ(client.request(), cat({kNtpv4, rec(true, 4, {0, 30, 0, 15}), eom()}));
}

TEST(KeClient, RequestCarriesServerAndPortWhenAsked) {
    KeClientConfig config = config_for();
    config.request_ntp_server = "192.0.2.7";
    config.request_ntp_port = 123;
    const KeClientSession client(config, test::fake_exporter());
    EXPECT_EQ(client.request(),
              cat({kNtpv4, rec(true, 4, {0, 15}), rec(false, 6, text("192.0.2.7")),
                   rec(false, 7, {0, 123}), eom()}));
}

TEST(KeClient, InvalidConfigFailsAtOnceWithNoRequest) {
    KeClientConfig none = config_for();
    none.aead_algorithms = {};
    KeClientConfig unknown = config_for();
    unknown.aead_algorithms = {15, 99};
    KeClientConfig bad_name = config_for();
    bad_name.request_ntp_server = "not a name";
    for (const auto& config : {none, unknown, bad_name}) {
        KeClientSession client(config, test::fake_exporter());
        EXPECT_TRUE(client.request().empty());
        EXPECT_EQ(client.status(), KeClientStatus::Failed);
        EXPECT_EQ(client.failure().error, KeClientError::InvalidConfig);
        EXPECT_EQ(client.feed(cat({kNtpv4, kSivChosen, kCookie, eom()})), KeClientStatus::Failed);
    }
}

TEST(KeClient, GoodResponseGivesKeysCookiesAndDefaultServer) {
    const Bytes cookie2 = rec(true, 5, Bytes(70, 0x11));  // a critical cookie is fine too
    auto client = fed(cat({kNtpv4, kSivChosen, kCookie, cookie2, rec(false, 0x3000, {1}), eom()}));
    ASSERT_EQ(client.status(), KeClientStatus::Done) << client.failure().detail;
    const auto& r = client.result();
    EXPECT_EQ(r.keys, *export_nts_keys(test::fake_exporter(), 15));
    EXPECT_EQ(r.keys.c2s.size(), 32u);
    ASSERT_EQ(r.cookies.size(), 2u);
    EXPECT_EQ(r.cookies[0], Bytes(64, 0xab));
    EXPECT_EQ(r.cookies[1], Bytes(70, 0x11));
    EXPECT_EQ(r.ntp_server, "ke.example.net");
    EXPECT_EQ(r.ntp_port, 123);
    EXPECT_EQ(r.ignored_records, 1u);
}

TEST(KeClient, ServerAndPortRecordsRedirectNtp) {
    auto client = fed(cat({kNtpv4, kSivChosen, rec(true, 6, text("2001:db8::123")),
                           rec(false, 7, {0x11, 0x5c}), kCookie, eom()}));
    ASSERT_EQ(client.status(), KeClientStatus::Done);
    EXPECT_EQ(client.result().ntp_server, "2001:db8::123");
    EXPECT_EQ(client.result().ntp_port, 4444);
}

struct FailureCase {
    const char* name;
    Bytes response;
    KeClientError error;
    uint16_t code = 0;
};

TEST(KeClient, EachBadResponseFailsWithItsReason) {
    using E = KeClientError;
    const std::vector<FailureCase> cases = {
        {"server error", cat({rec(true, 2, {0, 1}), eom()}), E::ServerError, 1},
        {"error among good records",
         cat({kNtpv4, kSivChosen, kCookie, rec(true, 2, {0, 2}), eom()}), E::ServerError, 2},
        {"error without end of message", rec(true, 2, {0, 0}), E::ServerError, 0},
        {"warning", cat({kNtpv4, kSivChosen, rec(true, 3, {0, 9}), kCookie, eom()}),
         E::UnrecognizedWarning, 9},
        {"unknown critical", cat({kNtpv4, kSivChosen, rec(true, 0x99, {}), kCookie, eom()}),
         E::UnrecognizedCritical},
        {"no next protocol", cat({kSivChosen, kCookie, eom()}), E::NoNextProtocol},
        {"empty next protocol", cat({rec(true, 1, {}), eom()}), E::NoCommonProtocol},
        {"other protocol", cat({rec(true, 1, {0x80, 0}), kSivChosen, kCookie, eom()}),
         E::ProtocolNotNtpv4},
        {"two protocols in one", cat({rec(true, 1, {0, 0, 0, 1}), kSivChosen, kCookie, eom()}),
         E::ProtocolNotNtpv4},
        {"two next protocol records", cat({kNtpv4, kNtpv4, kSivChosen, kCookie, eom()}),
         E::Malformed},
        {"no aead", cat({kNtpv4, kCookie, eom()}), E::NoAead},
        {"empty aead", cat({kNtpv4, rec(true, 4, {}), eom()}), E::NoCommonAead},
        {"aead not offered", cat({kNtpv4, rec(true, 4, {0, 30}), kCookie, eom()}),
         E::AeadNotOffered},
        {"two aeads in one", cat({kNtpv4, rec(true, 4, {0, 15, 0, 15}), kCookie, eom()}),
         E::AeadNotOffered},
        {"two aead records", cat({kNtpv4, kSivChosen, kSivChosen, kCookie, eom()}), E::Malformed},
        {"no cookies", cat({kNtpv4, kSivChosen, eom()}), E::NoCookies},
        {"two servers",
         cat({kNtpv4, kSivChosen, rec(true, 6, text("a")), rec(true, 6, text("a")), kCookie,
              eom()}),
         E::Malformed},
        {"two ports",
         cat({kNtpv4, kSivChosen, rec(true, 7, {0, 1}), rec(true, 7, {0, 1}), kCookie, eom()}),
         E::Malformed},
        {"port zero", cat({kNtpv4, kSivChosen, rec(true, 7, {0, 0}), kCookie, eom()}),
         E::Malformed},
        {"bad server", cat({kNtpv4, kSivChosen, rec(true, 6, text("a/b")), kCookie, eom()}),
         E::Malformed},
        {"eom not critical", cat({kNtpv4, kSivChosen, kCookie, rec(false, 0, {})}), E::Malformed},
        {"empty cookie", cat({kNtpv4, kSivChosen, rec(false, 5, {}), eom()}), E::Malformed},
    };
    for (const auto& c : cases) {
        for (const size_t chunk : {0u, 1u}) {
            auto client = fed(c.response, config_for(), chunk);
            EXPECT_EQ(client.status(), KeClientStatus::Failed) << c.name;
            EXPECT_EQ(client.failure().error, c.error)
                << c.name << ": " << to_string(client.failure().error) << " / "
                << client.failure().detail;
            EXPECT_EQ(client.failure().code, c.code) << c.name;
            EXPECT_TRUE(client.result().cookies.empty()) << c.name;  // discarded
        }
    }
}

TEST(KeClient, ClosedBeforeEndOfMessageFails) {
    auto client = fed(cat({kNtpv4, kSivChosen, kCookie}));
    EXPECT_EQ(client.status(), KeClientStatus::NeedMore);
    EXPECT_EQ(client.peer_closed(), KeClientStatus::Failed);
    EXPECT_EQ(client.failure().error, KeClientError::MissingEndOfMessage);
    auto done = fed(cat({kNtpv4, kSivChosen, kCookie, eom()}));
    EXPECT_EQ(done.peer_closed(), KeClientStatus::Done);  // a close after the end is normal
}

TEST(KeClient, OversizeResponseFails) {
    KeClientConfig config = config_for();
    config.max_response_bytes = 1024;
    Bytes response = cat({kNtpv4, kSivChosen});
    while (response.size() < 1100) response = cat({response, kCookie});
    auto client = fed(cat({response, eom()}), config, 100);
    EXPECT_EQ(client.failure().error, KeClientError::ResponseTooLong);
    EXPECT_EQ(client.failure().record, RecordError::MessageTooLong);
}

TEST(KeClient, ExporterFailureFails) {
    KeClientSession client(config_for(), test::failing_exporter());
    EXPECT_EQ(client.feed(cat({kNtpv4, kSivChosen, kCookie, eom()})), KeClientStatus::Failed);
    EXPECT_EQ(client.failure().error, KeClientError::KeyExportFailed);
}

TEST(KeClient, ExporterGivingTheWrongLengthFails) {
    // 16 octets whatever is asked: too short for AES-SIV-CMAC-256's 32.
    KeyExporter short_keys = [](std::string_view, std::span<const uint8_t>, size_t) {
        return std::optional<Bytes>(Bytes(16, 1));
    };
    KeClientSession client(config_for(), short_keys);
    EXPECT_EQ(client.feed(cat({kNtpv4, kSivChosen, kCookie, eom()})), KeClientStatus::Failed);
    EXPECT_EQ(client.failure().error, KeClientError::KeyExportFailed);
}

TEST(KeClient, TrailingBytesAfterEndOfMessageChangeNothing) {
    auto client = fed(cat({kNtpv4, kSivChosen, kCookie, eom(), rec(true, 2, {0, 1})}));
    EXPECT_EQ(client.status(), KeClientStatus::Done);
    EXPECT_EQ(client.feed(rec(true, 0x77, {})), KeClientStatus::Done);
    EXPECT_EQ(client.result().cookies.size(), 1u);
}

// Client and server against each other, bytes passed in small pieces.
struct Pair {
    KeClientStatus status;
    KeClientSession client;
    std::optional<NtsKeys> server_keys;
};

Pair exchange(KeClientConfig client_config, KeServerConfig server_config, size_t chunk) {
    FakeCookieSource cookies;
    KeClientSession client(std::move(client_config), test::fake_exporter());
    KeServerSession server(std::move(server_config), test::fake_exporter(), cookies);
    const Bytes request = client.request();
    KeServerAction action;
    for (size_t at = 0; at < request.size() && !server.request_complete(); at += chunk) {
        action = server.feed(
            std::span<const uint8_t>(request).subspan(at, std::min(chunk, request.size() - at)));
    }
    EXPECT_TRUE(action.close_after_write);
    for (size_t at = 0; at < action.write.size(); at += chunk) {
        client.feed(std::span<const uint8_t>(action.write)
                        .subspan(at, std::min(chunk, action.write.size() - at)));
    }
    client.peer_closed();
    return {client.status(), std::move(client), server.keys()};
}

TEST(KeEndToEnd, ClientAndServerAgreeOnKeysAndCookies) {
    KeClientConfig client_config = config_for("time.example.org");
    client_config.aead_algorithms = {30, 15};
    KeServerConfig server_config;
    server_config.aead_algorithms = {30, 15};
    for (const size_t chunk : {1u, 5u, 4096u}) {
        auto p = exchange(client_config, server_config, chunk);
        ASSERT_EQ(p.status, KeClientStatus::Done) << p.client.failure().detail;
        EXPECT_EQ(p.client.result().keys.aead, 30);
        ASSERT_TRUE(p.server_keys);
        EXPECT_EQ(p.client.result().keys, *p.server_keys);
        EXPECT_EQ(p.client.result().cookies.size(), 8u);
        EXPECT_EQ(p.client.result().ntp_server, "time.example.org");
        EXPECT_EQ(p.client.result().ntp_port, 123);
    }
}

TEST(KeEndToEnd, RedirectedNtpServerReachesTheClient) {
    KeServerConfig server_config;
    server_config.ntp_server = "ntp-b.example.org";
    server_config.ntp_port = 1123;
    auto p = exchange(config_for(), server_config, 3);
    ASSERT_EQ(p.status, KeClientStatus::Done);
    EXPECT_EQ(p.client.result().ntp_server, "ntp-b.example.org");
    EXPECT_EQ(p.client.result().ntp_port, 1123);
}

TEST(KeEndToEnd, NoCommonAeadReachesTheClientAsSuch) {
    KeClientConfig client_config = config_for();
    client_config.aead_algorithms = {30};
    KeServerConfig siv_only;  // a server that knows 15 only (chrony 4.3, NTPsec 1.2)
    siv_only.aead_algorithms = {15};
    auto p = exchange(client_config, siv_only, 2);
    EXPECT_EQ(p.status, KeClientStatus::Failed);
    EXPECT_EQ(p.client.failure().error, KeClientError::NoCommonAead);
}

TEST(KeEndToEnd, ServerErrorReachesTheClientWithItsCode) {
    FakeCookieSource cookies;
    cookies.fail = true;
    KeClientSession client(config_for(), test::fake_exporter());
    KeServerSession server({}, test::fake_exporter(), cookies);
    const auto action = server.feed(client.request());
    EXPECT_EQ(client.feed(action.write), KeClientStatus::Failed);
    EXPECT_EQ(client.failure().error, KeClientError::ServerError);
    EXPECT_EQ(client.failure().code, 2);
}

}  // namespace
}  // namespace nts
