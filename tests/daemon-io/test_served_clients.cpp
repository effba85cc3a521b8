// clients_view: the server threads' rate-limit tables merged into the
// clients view (nanotimectl clients): one row per client adding up every
// table's counts, most recently seen first, capped, and saying when cut.
#include <gtest/gtest.h>

#include "nanotimed/served_clients.hpp"

namespace nanotime::daemon {
namespace {

const ntp::NtpInstant kNow = ntp::NtpInstant::from_unix(ntp::from_seconds(1'780'000'000));

ntp::RateLimitedClient row(ntp::IpAddress client, double ago_s, uint32_t requests, uint32_t drops,
                           uint32_t kods) {
    ntp::RateLimitedClient r;
    r.client = client;
    r.last_seen = kNow - ntp::from_seconds(ago_s);
    r.requests = requests;
    r.drops = drops;
    r.kods = kods;
    return r;
}

TEST(ServedClients, OneClientInTwoTablesIsOneRowAddingBothUp) {
    const auto a = ntp::IpAddress::v4(192, 0, 2, 1);
    const auto b = *ntp::IpAddress::parse("2001:db8::");
    ClientTable first{{row(a, 10, 12, 3, 1)}, 1};
    first.rows[0].nts = 2;
    first.rows[0].interleaved = 4;
    ClientTable second{{row(b, 1, 5, 0, 0), row(a, 30, 7, 2, 1)}, 2};
    const ctl::ClientsInfo v = clients_view({first, second}, true, kNow, 10);
    EXPECT_TRUE(v.ntp);
    EXPECT_TRUE(v.rate_limit);
    EXPECT_EQ(v.tracked, 3u);
    EXPECT_FALSE(v.truncated);
    EXPECT_EQ(v.max_rows, 10u);
    ASSERT_EQ(v.clients.size(), 2u);
    EXPECT_EQ(v.clients[0].address, "2001:db8::");  // seen 1 s ago: first
    EXPECT_DOUBLE_EQ(v.clients[0].last_seen_ago_s, 1.0);
    const ctl::ClientInfo& m = v.clients[1];
    EXPECT_EQ(m.address, "192.0.2.1");
    EXPECT_EQ(m.ntp_requests, 19u);
    EXPECT_EQ(m.ntp_drops, 5u);
    EXPECT_EQ(m.ntp_kod, 2u);
    EXPECT_EQ(m.nts_requests, 2u);
    EXPECT_EQ(m.ntp_interleaved, 4u);
    EXPECT_DOUBLE_EQ(m.last_seen_ago_s, 10.0);  // the latest of the two
}

TEST(ServedClients, SumsPastTwoToThe32) {
    const auto a = ntp::IpAddress::v4(192, 0, 2, 1);
    const uint32_t big = 0xffffffffu;
    const ctl::ClientsInfo v =
        clients_view({{{row(a, 1, big, big, 0)}, 1}, {{row(a, 1, big, 0, 0)}, 1}}, true, kNow, 10);
    ASSERT_EQ(v.clients.size(), 1u);
    EXPECT_EQ(v.clients[0].ntp_requests, 2ull * big);
    EXPECT_EQ(v.clients[0].ntp_drops, uint64_t{big});
}

TEST(ServedClients, CapKeepsTheMostRecentAndSaysItCut) {
    ClientTable t;
    for (uint8_t i = 1; i <= 5; ++i)
        t.rows.push_back(row(ntp::IpAddress::v4(10, 0, 0, i), i, 1, 0, 0));
    t.tracked = 5;
    ctl::ClientsInfo v = clients_view({t}, true, kNow, 3);
    EXPECT_TRUE(v.truncated);
    EXPECT_EQ(v.tracked, 5u);
    ASSERT_EQ(v.clients.size(), 3u);
    EXPECT_EQ(v.clients[0].address, "10.0.0.1");
    EXPECT_EQ(v.clients[2].address, "10.0.0.3");
    // A table that held more than it handed over is cut too.
    t.tracked = 6;
    v = clients_view({t}, true, kNow, 10);
    EXPECT_EQ(v.clients.size(), 5u);
    EXPECT_TRUE(v.truncated);
}

TEST(ServedClients, ZeroCountersKeepsTheClients) {
    ClientTable t{{row(ntp::IpAddress::v4(10, 0, 0, 1), 1, 9, 4, 2)}, 1};
    t.rows[0].nts = 3;
    t.rows[0].interleaved = 1;
    zero_counters(t);
    const ctl::ClientsInfo v = clients_view({t}, true, kNow, 10);
    ASSERT_EQ(v.clients.size(), 1u);
    EXPECT_EQ(v.clients[0].ntp_requests + v.clients[0].ntp_drops + v.clients[0].ntp_kod +
                  v.clients[0].nts_requests + v.clients[0].ntp_interleaved,
              0u);
}

}  // namespace
}  // namespace nanotime::daemon
