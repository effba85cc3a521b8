// test_fleet_metrics.cpp - the broker's fleet in Prometheus text: members'
// health from their state, subscribed or not, deletion, seeding from the
// store, and changes it cannot use ignored.
#include <gtest/gtest.h>

#include "broker/fleet_metrics.hpp"

namespace nanotime::broker {
namespace {

using nlohmann::json;

std::string render(const FleetMetrics& f) {
    metrics::Exposition out;
    f.render(out);
    return out.text();
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

const json kState = json::parse(R"({
    "status": {"synchronized": true, "stratum": 2, "sources": 3, "sources_reachable": 2},
    "tracking": {"stratum": 2, "system_offset_s": -1.5e-06, "frequency_ppm": 12.5,
                 "root_delay_s": 0.00025, "root_dispersion_s": 0.0005}})");

TEST(FleetMetrics, StateGivesTheMembersHealth) {
    FleetMetrics f;
    f.observe({{"type", "member_connected"}, {"member", "ntp1"}}, 100);
    f.observe({{"type", "state"}, {"member", "ntp1"}, {"seq", 1}, {"data", kState}}, 101.5);
    const std::string t = render(f);
    EXPECT_TRUE(has_line(t, "nanotime_member_subscribed{member=\"ntp1\"} 1")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_synchronized{member=\"ntp1\"} 1")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_stratum{member=\"ntp1\"} 2")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_offset_seconds{member=\"ntp1\"} -1.5e-06")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_frequency_offset_ratio{member=\"ntp1\"} 1.25e-05"))
        << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_root_delay_seconds{member=\"ntp1\"} 0.00025")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_sources_reachable{member=\"ntp1\"} 2")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_last_state_timestamp_seconds{member=\"ntp1\"} 101.5"))
        << t;
    EXPECT_TRUE(has_line(t, "nanotime_broker_members{subscribed=\"true\"} 1")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_broker_state_messages_total 1")) << t;
}

TEST(FleetMetrics, DisconnectKeepsTheLastHealthDeleteForgets) {
    FleetMetrics f;
    f.observe({{"type", "state"}, {"member", "a"}, {"seq", 1}, {"data", kState}}, 1);
    f.observe({{"type", "state"}, {"member", "b"}, {"seq", 1}, {"data", kState}}, 1);
    f.observe({{"type", "member_disconnected"}, {"member", "a"}, {"reason", "x"}}, 2);
    std::string t = render(f);
    EXPECT_TRUE(has_line(t, "nanotime_member_subscribed{member=\"a\"} 0")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_stratum{member=\"a\"} 2")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_broker_members{subscribed=\"false\"} 1")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_broker_subscriptions_total{event=\"ended\"} 1")) << t;
    f.observe({{"type", "member_deleted"}, {"member", "a"}}, 3);
    t = render(f);
    EXPECT_EQ(t.find("member=\"a\""), std::string::npos) << t;
    EXPECT_EQ(f.members(), 1u);
}

TEST(FleetMetrics, SeededFromTheStoreAsUnsubscribed) {
    MemberInfo m;
    m.name = "old";
    m.state_json = kState.dump();
    m.state_time = 1700000000;
    MemberInfo none;
    none.name = "silent";  // never sent a state: no health lines
    FleetMetrics f;
    f.seed({m, none});
    const std::string t = render(f);
    EXPECT_TRUE(has_line(t, "nanotime_member_subscribed{member=\"old\"} 0")) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_offset_seconds{member=\"old\"} -1.5e-06")) << t;
    EXPECT_TRUE(has_line(t,
                         "nanotime_member_last_state_timestamp_seconds{member=\"old\"} "
                         "1.7e+09"))
        << t;
    EXPECT_EQ(t.find("nanotime_member_stratum{member=\"silent\"}"), std::string::npos) << t;
    EXPECT_TRUE(has_line(t, "nanotime_member_subscribed{member=\"silent\"} 0")) << t;
}

TEST(FleetMetrics, UnusableInputChangesNothingOrOnlyWhatItCan) {
    FleetMetrics f;
    f.observe(json::array(), 1);
    f.observe({{"type", "state"}}, 1);                            // no member
    f.observe({{"type", 3}, {"member", "x"}}, 1);                 // type not a string
    f.observe({{"type", "member_connected"}, {"member", 7}}, 1);  // member not a string
    EXPECT_EQ(f.members(), 0u);
    // Fields of the wrong type read as missing, never as an exception.
    EXPECT_FALSE(FleetMetrics::health_of(json::parse(R"({"kernel":{}})")));
    const auto h = FleetMetrics::health_of(
        json::parse(R"({"tracking":{"stratum":"two","system_offset_s":null}})"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->stratum, 16);
    EXPECT_EQ(h->offset_s, 0);
    EXPECT_FALSE(h->synchronized);
}

}  // namespace
}  // namespace nanotime::broker
