// The broker's side of the subscriptions: hello/welcome, state stored as
// the last-known status, events published, ping/pong keep-alive, and
// connections dropped for protocol errors.
#include "broker_fixture.hpp"

namespace nanotime::broker::testing {
namespace {

using HubTest = BrokerFixture;

TEST_F(HubTest, HelloGetsWelcomeAndRegistersTheMember) {
    subscribe(1, "ntp1");
    const auto& w = std::get<Welcome>(frames_[1].back());
    EXPECT_EQ(w.member, "ntp1");
    EXPECT_EQ(w.state_interval, 5u);
    const auto m = store_.find_member("ntp1");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->host, "ntp1.example");
    EXPECT_EQ(published_.back()["type"], "member_connected");
    EXPECT_TRUE(hub_.connected("ntp1"));
}

TEST_F(HubTest, StateIsStoredAndSurvivesTheConnection) {
    subscribe(1, "ntp1");
    const json data = {{"tracking", {{"offset_s", 1e-6}}}};
    hub_.receive(1, encode_message(DaemonMessage{State{3, data}}), now_ms_ + 5000);
    EXPECT_EQ(json::parse(store_.find_member("ntp1")->state_json), data);
    EXPECT_EQ(store_.find_member("ntp1")->state_time, now_s() + 5);
    EXPECT_EQ(published_.back()["type"], "state");
    EXPECT_EQ(published_.back()["data"], data);
    hub_.closed(1, now_ms_);
    EXPECT_FALSE(hub_.connected("ntp1"));
    EXPECT_EQ(published_.back()["type"], "member_disconnected");
    EXPECT_EQ(json::parse(store_.find_member("ntp1")->state_json), data) << "last-known";
}

// States reach the database once a second, in one transaction, from tick().
TEST_F(HubTest, StatesAreFlushedToTheDatabaseEverySecond) {
    subscribe(1, "ntp1");
    hub_.tick(now_ms_);
    hub_.receive(1, encode_message(DaemonMessage{State{1, json::object()}}), now_ms_ + 10);
    EXPECT_EQ(store_.pending_member_states(), 1u);
    hub_.tick(now_ms_ + kStateFlushIntervalMs - 1);
    EXPECT_EQ(store_.pending_member_states(), 1u) << "not yet";
    hub_.tick(now_ms_ + kStateFlushIntervalMs);
    EXPECT_EQ(store_.pending_member_states(), 0u);
    EXPECT_EQ(store_.find_member("ntp1")->state_seq, 1u);
}

TEST_F(HubTest, EventsArePublished) {
    subscribe(1, "ntp1");
    hub_.receive(1, encode_message(DaemonMessage{Event{"step", "stepped 0.5 s"}}), now_ms_);
    EXPECT_EQ(
        published_.back(),
        (json{{"type", "event"}, {"member", "ntp1"}, {"kind", "step"}, {"text", "stepped 0.5 s"}}));
}

TEST_F(HubTest, PingEvery30SecondsAndNoPongDrops) {
    subscribe(1, "ntp1");
    hub_.tick(now_ms_ + kPingIntervalMs - 1);
    EXPECT_TRUE(std::holds_alternative<Welcome>(frames_[1].back()));
    hub_.tick(now_ms_ + kPingIntervalMs);
    const auto ping = std::get<Ping>(frames_[1].back());
    hub_.receive(1, encode_message(DaemonMessage{Pong{ping.id}}), now_ms_ + kPingIntervalMs + 10);
    hub_.tick(now_ms_ + kPingIntervalMs + kPongTimeoutMs);
    EXPECT_TRUE(hub_.connected("ntp1")) << "answered";
    hub_.tick(now_ms_ + 2 * kPingIntervalMs);
    ASSERT_TRUE(std::holds_alternative<Ping>(frames_[1].back()));
    hub_.tick(now_ms_ + 2 * kPingIntervalMs + kPongTimeoutMs);
    EXPECT_FALSE(hub_.connected("ntp1"));
    EXPECT_EQ(closed_, std::vector<uint64_t>{1});
    EXPECT_EQ(published_.back()["reason"], "no pong within 30 s");
}

TEST_F(HubTest, NoHelloWithin10SecondsDrops) {
    hub_.open(1, "ntp1", now_ms_);
    hub_.tick(now_ms_ + kHelloTimeoutMs);
    EXPECT_EQ(closed_, std::vector<uint64_t>{1});
    EXPECT_FALSE(store_.find_member("ntp1")) << "never welcomed: not registered";
}

TEST_F(HubTest, ProtocolErrorsDrop) {
    hub_.open(1, "a", now_ms_);
    hub_.receive(1, encode_message(DaemonMessage{Pong{1}}), now_ms_);
    EXPECT_EQ(closed_.size(), 1u) << "first message not hello";
    subscribe(2, "b");
    hub_.receive(2, encode_message(DaemonMessage{Hello{1, "b", "1", {}}}), now_ms_);
    EXPECT_EQ(closed_.size(), 2u) << "second hello";
    hub_.open(3, "c", now_ms_);
    hub_.receive(3, encode_message(DaemonMessage{Hello{2, "c", "1", {}}}), now_ms_);
    EXPECT_EQ(closed_.size(), 3u) << "protocol 2";
    subscribe(4, "d");
    hub_.receive(4, ctl::encode_frame(R"({"type":"state","seq":1,"data":{"secret":{}}})"), now_ms_);
    EXPECT_EQ(closed_.size(), 4u) << "malformed";
    subscribe(5, "e");
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
    hub_.receive(5, huge, now_ms_);
    EXPECT_EQ(closed_.size(), 5u) << "oversize frame";
    EXPECT_EQ(hub_.malformed_messages(), 2u);
    EXPECT_EQ(hub_.sessions(), 0u);
}

TEST_F(HubTest, NewerSubscriptionReplacesTheOlder) {
    subscribe(1, "ntp1");
    subscribe(2, "ntp1");
    EXPECT_EQ(closed_, std::vector<uint64_t>{1});
    EXPECT_TRUE(hub_.connected("ntp1"));
    hub_.closed(1, now_ms_);  // the old connection's close callback
    EXPECT_TRUE(hub_.connected("ntp1")) << "the newer one stays";
}

TEST_F(HubTest, BytesArriveInPieces) {
    hub_.open(1, "ntp1", now_ms_);
    const auto bytes = encode_message(DaemonMessage{Hello{1, "h", "1", {}}});
    for (uint8_t b : bytes) hub_.receive(1, std::span(&b, 1), now_ms_);
    EXPECT_TRUE(hub_.connected("ntp1"));
}

}  // namespace
}  // namespace nanotime::broker::testing
