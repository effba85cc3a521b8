// test_subscriber_session.cpp - the member's subscription session on a fake
// clock: connection, upgrade, hello, welcome, state timing, pings, relayed
// commands, events, timeouts and the reconnection backoff.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "broker/subscriber_session.hpp"

namespace nanotime::broker {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Kind = SubscriberAction::Kind;

constexpr char kSwitching[] =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
    "Upgrade: nanotime-subscription/1\r\n\r\n";

std::vector<uint8_t> frame(const std::string& body) {
    return ctl::encode_frame(body);
}

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The JSON messages among @actions' Send actions, in order.
std::vector<json> sent_messages(const SubscriberActions& actions) {
    std::vector<json> out;
    for (const SubscriberAction& a : actions) {
        if (a.kind != Kind::Send) continue;
        ctl::FrameDecoder d(SubscriberSession::kMaxFrame);
        d.feed(a.bytes);
        while (auto f = d.next()) out.push_back(json::parse(*f));
    }
    return out;
}

bool has(const SubscriberActions& actions, Kind kind) {
    for (const SubscriberAction& a : actions)
        if (a.kind == kind) return true;
    return false;
}

struct SessionTest : ::testing::Test {
    Clock::time_point now = Clock::time_point{} + 1000s;
    double jitter = 0.999999;  // the delay drawn: the top of [d/2, d]
    SubscriberOptions options = [] {
        SubscriberOptions o;
        o.broker_host = "broker.example";
        o.host_name = "member1";
        o.version = "1.2";
        o.roles = {"client", "server"};
        return o;
    }();
    std::unique_ptr<SubscriberSession> s;

    void make() {
        s = std::make_unique<SubscriberSession>(options, [this] { return jitter; });
    }

    // Start to subscribed; returns the actions of the welcome.
    SubscriberActions subscribe(unsigned welcome_interval = 5) {
        if (!s) make();
        SubscriberActions a = s->start(now);
        EXPECT_TRUE(has(a, Kind::Connect));
        a = s->on_connected(now);
        EXPECT_EQ(a.size(), 1u);
        a = s->on_data(now, bytes(kSwitching));
        EXPECT_EQ(s->phase(), SubscriberSession::Phase::AwaitWelcome);
        a = s->on_data(
            now,
            frame(json{{"type", "welcome"}, {"member", "m1"}, {"state_interval", welcome_interval}}
                      .dump()));
        EXPECT_EQ(s->phase(), SubscriberSession::Phase::Subscribed);
        return a;
    }

    void advance(Clock::duration d) { now += d; }
};

TEST_F(SessionTest, ConnectsAtOnceAndAsksForTheUpgrade) {
    make();
    SubscriberActions a = s->start(now);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].kind, Kind::Connect);
    EXPECT_EQ(s->phase(), SubscriberSession::Phase::Connecting);
    a = s->on_connected(now);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(a[0].kind, Kind::Send);
    EXPECT_EQ(std::string(a[0].bytes.begin(), a[0].bytes.end()),
              upgrade_request("broker.example", 4461));
}

TEST_F(SessionTest, HelloFirstThenTheWelcomeInTheSameRead) {
    make();
    s->start(now);
    s->on_connected(now);
    // The welcome arrives in the same read as the 101.
    std::string all = kSwitching;
    const std::vector<uint8_t> welcome =
        frame(R"({"type":"welcome","member":"m1","state_interval":5})");
    all.append(welcome.begin(), welcome.end());
    SubscriberActions a = s->on_data(now, bytes(all));
    const std::vector<json> sent = sent_messages(a);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], json::parse(R"({"type":"hello","protocol":1,"host":"member1","version":"1.2",
                              "roles":["client","server"]})"));
    EXPECT_TRUE(has(a, Kind::NeedState)) << "state at once after the welcome";
    EXPECT_EQ(s->member(), "m1");
    EXPECT_DOUBLE_EQ(s->state_interval(), 5);
}

TEST_F(SessionTest, StateEveryIntervalWithARisingSequence) {
    SubscriberActions a = subscribe(2);
    ASSERT_TRUE(has(a, Kind::NeedState));
    a = s->send_state(now, json::parse(R"({"status":{"synchronized":true}})"));
    std::vector<json> sent = sent_messages(a);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], json::parse(R"({"type":"state","seq":1,
                                       "data":{"status":{"synchronized":true}}})"));
    EXPECT_EQ(s->wakeup(), now + 2s);
    advance(1999ms);
    EXPECT_TRUE(s->on_timer(now).empty());
    advance(1ms);
    a = s->on_timer(now);
    ASSERT_TRUE(has(a, Kind::NeedState));
    EXPECT_TRUE(s->on_timer(now).empty()) << "asked once until the state is given";
    sent = sent_messages(s->send_state(now, json::object()));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0]["seq"], 2);
    EXPECT_EQ(s->counters().states_sent, 2u);
}

TEST_F(SessionTest, ConfiguredIntervalOverridesTheWelcome) {
    options.state_interval = 30;
    subscribe(2);
    EXPECT_DOUBLE_EQ(s->state_interval(), 30);
    s->send_state(now, json::object());
    EXPECT_EQ(s->wakeup(), now + 30s);
}

TEST_F(SessionTest, WelcomeOutsideTheProtocolEndsTheConnection) {
    make();
    s->start(now);
    s->on_connected(now);
    s->on_data(now, bytes(kSwitching));
    SubscriberActions a =
        s->on_data(now, frame(R"({"type":"welcome","member":"m1","state_interval":0})"));
    ASSERT_TRUE(has(a, Kind::Close));
    EXPECT_NE(s->last_error().find("malformed message from the broker: "), std::string::npos)
        << s->last_error();
    EXPECT_EQ(s->counters().bad_messages, 1u);
}

TEST_F(SessionTest, PingGetsPong) {
    subscribe();
    const std::vector<json> sent =
        sent_messages(s->on_data(now, frame(R"({"type":"ping","id":77})")));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], json::parse(R"({"type":"pong","id":77})"));
}

TEST_F(SessionTest, CommandRunsPrivilegedAndItsResultGoesBack) {
    subscribe();
    SubscriberActions a = s->on_data(
        now,
        frame(R"({"type":"command","id":9,"actor":"alice","request":{"command":"makestep"}})"));
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(a[0].kind, Kind::RunCommand);
    EXPECT_EQ(a[0].id, 9u);
    EXPECT_EQ(json::parse(a[0].text), json::parse(R"({"command":"makestep"})"));
    EXPECT_TRUE(a[0].privileged);
    EXPECT_EQ(a[0].actor, "alice");
    const std::vector<json> sent =
        sent_messages(s->command_result(9, R"({"ok":true,"command":"makestep","data":{}})"));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], json::parse(R"({"type":"result","id":9,
                                       "response":{"ok":true,"command":"makestep","data":{}}})"));
    EXPECT_EQ(s->counters().commands, 1u);
}

TEST_F(SessionTest, WithoutManagementCommandsRunUnprivileged) {
    options.allow_management = false;
    subscribe();
    SubscriberActions a = s->on_data(now, frame(R"({"type":"command","id":1,"actor":"bob",
                                  "request":{"command":"reload"}})"));
    ASSERT_EQ(a.size(), 1u);
    EXPECT_FALSE(a[0].privileged);
}

// PROTOCOL.md: a member that receives a malformed message ends the
// connection (and reconnects with backoff). Each kind of refusal:
TEST_F(SessionTest, MalformedMessagesEndTheConnection) {
    const std::string deep = R"({"type":"command","id":1,"actor":"a","request":)" +
                             std::string(40, '[') + std::string(40, ']') + "}";
    int n = 0;
    for (const std::string& bad :
         {std::string("not json"), std::string("[1,2]"), std::string(R"({"type":7})"),
          std::string(R"({"id":1})"), std::string(R"({"type":"ping"})"),
          std::string(R"({"type":"ping","id":-1})"), std::string(R"({"type":"command"})"),
          std::string(R"({"type":"command","id":4,"actor":"a","request":"x"})"),
          std::string(R"({"type":"gossip"})"), std::string(R"({"type":"pong","id":1})"), deep}) {
        s.reset();
        subscribe();
        SubscriberActions a = s->on_data(now, frame(bad));
        ASSERT_EQ(a.size(), 1u) << bad;
        EXPECT_EQ(a[0].kind, Kind::Close) << bad;
        EXPECT_TRUE(sent_messages(a).empty()) << "answered nothing: " << bad;
        EXPECT_EQ(s->phase(), SubscriberSession::Phase::Backoff) << bad;
        EXPECT_EQ(s->counters().bad_messages, 1u) << bad;
        ++n;
    }
    EXPECT_EQ(n, 11);
}

TEST_F(SessionTest, FloodingBrokerIsLeft) {
    subscribe();
    advance(2s);
    std::vector<uint8_t> burst;
    for (unsigned i = 0; i < SubscriberSession::kMaxMessagesPerSecond; ++i) {
        const std::vector<uint8_t> f = frame(R"({"type":"ping","id":1})");
        burst.insert(burst.end(), f.begin(), f.end());
    }
    EXPECT_FALSE(has(s->on_data(now, burst), Kind::Close)) << "50 in a second are fine";
    advance(999ms);
    SubscriberActions a = s->on_data(now, frame(R"({"type":"ping","id":2})"));
    ASSERT_TRUE(has(a, Kind::Close));
    EXPECT_TRUE(sent_messages(a).empty()) << "the message over the limit is not answered";
    EXPECT_EQ(s->last_error(), "broker sent more than 50 messages in 1 s");
}

TEST_F(SessionTest, OversizedFrameEndsTheConnection) {
    subscribe();
    const uint8_t huge[4] = {0x00, 0x10, 0x00, 0x01};  // 1 MiB + 1
    SubscriberActions a = s->on_data(now, huge);
    ASSERT_TRUE(has(a, Kind::Close));
    EXPECT_EQ(s->last_error(), "broker sent a frame above 1 MiB");
    EXPECT_EQ(s->phase(), SubscriberSession::Phase::Backoff);
}

TEST_F(SessionTest, RefusalClosesAndBacksOff) {
    make();
    s->start(now);
    s->on_connected(now);
    SubscriberActions a = s->on_data(now, bytes("HTTP/1.1 401 Unauthorized\r\n\r\n"));
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].kind, Kind::Close);
    EXPECT_EQ(a[0].text, "broker refused the subscription: 401 Unauthorized");
    EXPECT_EQ(s->phase(), SubscriberSession::Phase::Backoff);
    EXPECT_GT(s->wakeup(), now);
}

// The delays double from 1 s to 5 min, each drawn from [d/2, d], and
// return to 1 s once a broker has welcomed us.
TEST_F(SessionTest, BackoffDoublesToFiveMinutesWithJitterAndResetsOnWelcome) {
    make();
    s->start(now);
    const double expected_s[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
    int i = 0;
    for (double d : expected_s) {
        jitter = (i++ % 2 == 0) ? 0.0 : 0.999999;  // the bottom and the top of the range
        s->on_closed(now, "connect: Connection refused");
        const double waited = std::chrono::duration<double>(s->wakeup() - now).count();
        const double low = d / 2;
        if (jitter == 0.0) {
            EXPECT_NEAR(waited, low, 1e-3) << d;
        } else {
            EXPECT_NEAR(waited, d, 1e-3) << d;
        }
        now = s->wakeup() - 1ms;
        EXPECT_TRUE(s->on_timer(now).empty()) << "not before its time";
        now += 1ms;
        ASSERT_TRUE(has(s->on_timer(now), Kind::Connect));
    }
    EXPECT_EQ(s->counters().connects, 12u);
    EXPECT_EQ(s->last_error(), "connect: Connection refused");
    // This attempt gets through: the next failure waits 1 s again.
    s->on_connected(now);
    s->on_data(now, bytes(kSwitching));
    s->on_data(now, frame(R"({"type":"welcome","member":"m1","state_interval":5})"));
    EXPECT_EQ(s->last_error(), "");
    jitter = 0.999999;
    s->on_closed(now, "");
    EXPECT_EQ(s->last_error(), "the broker closed the connection");
    EXPECT_NEAR(std::chrono::duration<double>(s->wakeup() - now).count(), 1, 1e-3);
}

TEST_F(SessionTest, StalledConnectAndUpgradeAndWelcomeTimeOut) {
    make();
    s->start(now);
    EXPECT_EQ(s->wakeup(), now + 10s);
    advance(10s);
    SubscriberActions a = s->on_timer(now);
    ASSERT_TRUE(has(a, Kind::Close)) << "no TCP/TLS within 10 s";
    now = s->wakeup();
    ASSERT_TRUE(has(s->on_timer(now), Kind::Connect));
    s->on_connected(now);
    s->on_data(now, bytes("HTTP/1.1 101 Switch"));  // and then nothing
    advance(10s);
    a = s->on_timer(now);
    ASSERT_TRUE(has(a, Kind::Close)) << "no 101 within 10 s";
    EXPECT_EQ(s->last_error(), "no subscription within 10 s of connecting");
    now = s->wakeup();
    s->on_timer(now);
    s->on_connected(now);
    s->on_data(now, bytes(kSwitching));
    advance(10s);
    a = s->on_timer(now);
    ASSERT_TRUE(has(a, Kind::Close)) << "no welcome within 10 s";
    EXPECT_EQ(s->last_error(), "no welcome within 10 s of the upgrade");
}

TEST_F(SessionTest, SilentBrokerIsLeftAfterNinetySeconds) {
    options.state_interval = 3600;  // no state timer in the way
    subscribe();
    s->send_state(now, json::object());
    advance(60s);
    s->on_data(now, frame(R"({"type":"ping","id":1})"));  // alive: the clock restarts
    advance(89s);
    EXPECT_FALSE(has(s->on_timer(now), Kind::Close));
    EXPECT_EQ(s->wakeup(), now + 1s);
    advance(1s);
    ASSERT_TRUE(has(s->on_timer(now), Kind::Close));
    EXPECT_EQ(s->last_error(), "nothing from the broker for 90 s");
}

TEST_F(SessionTest, AfterCloseTheOldConnectionsReportsChangeNothing) {
    subscribe();
    SubscriberActions a = s->on_data(now, bytes(std::string("\xff\xff\xff\xff", 4)));
    ASSERT_TRUE(has(a, Kind::Close));
    const Clock::time_point reconnect = s->wakeup();
    EXPECT_TRUE(s->on_closed(now, "late").empty());
    EXPECT_EQ(s->wakeup(), reconnect) << "the close we asked for is not a second failure";
    EXPECT_TRUE(s->on_data(now, frame(R"({"type":"ping","id":1})")).empty());
    EXPECT_TRUE(s->command_result(1, "{}").empty()) << "no result on a closed connection";
}

TEST_F(SessionTest, ChangesBecomeEventsAndAFreshState) {
    subscribe();
    s->send_state(now, json::object());
    Observation o;
    o.selected_source = "a.example";
    o.synchronized = true;
    EXPECT_TRUE(s->observe(now, o).empty()) << "the first observation is the baseline";
    EXPECT_TRUE(s->observe(now, o).empty()) << "no change, no event";
    Observation changed = o;
    changed.selected_source = "b.example";
    changed.clock_steps = 1;
    changed.leap = "insert";
    SubscriberActions a = s->observe(now, changed);
    std::vector<json> sent = sent_messages(a);
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(sent[0], json::parse(R"j({"type":"event","kind":"source_selected",
                                         "text":"b.example selected (was a.example)"})j"));
    EXPECT_EQ(sent[1]["kind"], "step");
    EXPECT_EQ(sent[2], json::parse(R"({"type":"event","kind":"leap",
                                       "text":"leap indicator none -> insert"})"));
    EXPECT_TRUE(has(a, Kind::NeedState));
    s->send_state(now, json::object());
    Observation lost = changed;
    lost.selected_source.clear();
    lost.synchronized = false;
    sent = sent_messages(s->observe(now, lost));
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0]["kind"], "source_lost");
    EXPECT_EQ(sent[1]["kind"], "unsync");
    EXPECT_EQ(s->counters().events_sent, 5u);
}

TEST_F(SessionTest, NoEventsWithoutABroker) {
    make();
    s->start(now);
    Observation o;
    s->observe(now, o);
    o.synchronized = true;
    EXPECT_TRUE(s->observe(now, o).empty());
}

}  // namespace
}  // namespace nanotime::broker
