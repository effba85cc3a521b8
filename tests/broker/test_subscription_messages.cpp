// The subscription channel's codec: every message type round-trips, the
// direction is enforced, and malformed messages get a clear error naming
// the type and field.
#include <gtest/gtest.h>

#include "broker/subscription_messages.hpp"

namespace nanotime::broker {
namespace {

using nlohmann::json;

std::string daemon_error(std::string_view body) {
    const auto p = parse_daemon_message(body);
    EXPECT_FALSE(p.message.has_value()) << body;
    return p.error;
}

std::string broker_error(std::string_view body) {
    const auto p = parse_broker_message(body);
    EXPECT_FALSE(p.message.has_value()) << body;
    return p.error;
}

TEST(SubscriptionMessages, DaemonMessagesRoundTrip) {
    const std::vector<DaemonMessage> messages = {
        Hello{1, "ntp1.example.net", "0.9.0", {"server", "client"}},
        State{42, json{{"status", {{"synchronised", true}}},
                       {"sources", {{"sources", json::array()}}}}},
        Event{"step", "clock stepped by +0.250 s"},
        Result{7, json{{"ok", true}, {"command", "status"}, {"data", json::object()}}},
        Pong{9},
    };
    for (const auto& m : messages) {
        const auto p = parse_daemon_message(serialise(m));
        ASSERT_TRUE(p.message.has_value()) << p.error;
        EXPECT_EQ(*p.message, m);
        EXPECT_EQ(message_type(*p.message), json::parse(serialise(m))["type"]);
    }
}

TEST(SubscriptionMessages, BrokerMessagesRoundTrip) {
    const std::vector<BrokerMessage> messages = {
        Welcome{"ntp1", 5},
        Command{3, "token:alice", json{{"command", "makestep"}}},
        Ping{11},
    };
    for (const auto& m : messages) {
        const auto p = parse_broker_message(serialise(m));
        ASSERT_TRUE(p.message.has_value()) << p.error;
        EXPECT_EQ(*p.message, m);
        EXPECT_EQ(message_type(*p.message), json::parse(serialise(m))["type"]);
    }
}

TEST(SubscriptionMessages, SpecExamplesParse) {
    // The examples of PROTOCOL.md, byte for byte.
    const auto hello = parse_daemon_message(
        R"({"type":"hello","protocol":1,"host":"h","version":"x.y","roles":["server","client"]})");
    ASSERT_TRUE(hello.message) << hello.error;
    EXPECT_EQ(std::get<Hello>(*hello.message).roles.size(), 2u);
    const auto welcome =
        parse_broker_message(R"({"type":"welcome","member":"name","state_interval":5})");
    ASSERT_TRUE(welcome.message) << welcome.error;
    EXPECT_EQ(std::get<Welcome>(*welcome.message).state_interval, 5u);
    const auto command = parse_broker_message(
        R"({"type":"command","id":1,"actor":"who","request":{"command":"tracking","id":4}})");
    ASSERT_TRUE(command.message) << command.error;
    EXPECT_EQ(std::get<Command>(*command.message).request["id"], 4);
}

TEST(SubscriptionMessages, DirectionIsEnforced) {
    EXPECT_EQ(daemon_error(serialise(BrokerMessage{Ping{1}})),
              "\"ping\" is sent by the broker, not a daemon");
    EXPECT_EQ(broker_error(serialise(DaemonMessage{Pong{1}})),
              "\"pong\" is sent by a daemon, not the broker");
}

TEST(SubscriptionMessages, NotAnObjectOrNoType) {
    EXPECT_EQ(daemon_error("{"), "message is not valid JSON (UTF-8)");
    EXPECT_EQ(daemon_error("\"\xff\""), "message is not valid JSON (UTF-8)");
    EXPECT_EQ(daemon_error("[1]"), "message is not a JSON object");
    EXPECT_EQ(daemon_error(R"({"id":1})"), "message has no string \"type\"");
    EXPECT_EQ(daemon_error(R"({"type":5})"), "message has no string \"type\"");
    EXPECT_EQ(daemon_error(R"({"type":"bogus"})"), "unknown message type \"bogus\"");
    EXPECT_EQ(broker_error(R"({"type":"bogus"})"), "unknown message type \"bogus\"");
}

TEST(SubscriptionMessages, FieldsAreChecked) {
    EXPECT_EQ(daemon_error(R"({"type":"hello","protocol":1,"host":"h","version":"1"})"),
              "hello: missing field \"roles\"");
    EXPECT_EQ(daemon_error(R"({"type":"hello","protocol":0,"host":"h","version":"1","roles":[]})"),
              "hello: \"protocol\" must be an integer from 1 to 65535");
    EXPECT_EQ(daemon_error(R"({"type":"hello","protocol":1,"host":"","version":"1","roles":[]})"),
              "hello: \"host\" must be a name of 1 to 253 bytes from [A-Za-z0-9._:@+/-]");
    EXPECT_EQ(
        daemon_error(R"({"type":"hello","protocol":1,"host":"h","version":"1","roles":["a","a"]})"),
        "hello: \"roles\" must be an array of at most 16 distinct names from [A-Za-z0-9._:@+/-]");
    EXPECT_EQ(
        daemon_error(R"({"type":"hello","protocol":1,"host":"h","version":"1","roles":[],"x":1})"),
        "hello: unknown field \"x\"");
    EXPECT_EQ(daemon_error(R"({"type":"state","seq":-1,"data":{}})"),
              "state: \"seq\" must be an integer from 0 to 9007199254740991");
    EXPECT_EQ(daemon_error(R"({"type":"state","seq":1.5,"data":{}})"),
              "state: \"seq\" must be an integer from 0 to 9007199254740991");
    EXPECT_EQ(daemon_error(R"({"type":"state","seq":9007199254740992,"data":{}})"),
              "state: \"seq\" must be an integer from 0 to 9007199254740991");
    EXPECT_EQ(daemon_error(R"({"type":"state","seq":1,"data":[]})"),
              "state: \"data\" must be an object");
    EXPECT_EQ(daemon_error(R"({"type":"state","seq":1,"data":{"secrets":{}}})"),
              "state: unknown view \"secrets\" in data");
    EXPECT_EQ(daemon_error(R"({"type":"state","seq":1,"data":{"status":3}})"),
              "state: data \"status\" must be an object");
    EXPECT_EQ(daemon_error(R"({"type":"event","kind":"step","text":"a\nb"})"),
              "event: \"text\" must be a string of at most 1024 bytes without control characters");
    EXPECT_EQ(daemon_error(R"({"type":"event","kind":"st ep","text":""})"),
              "event: \"kind\" must be a name of 1 to 64 bytes from [A-Za-z0-9._:@+/-]");
    EXPECT_EQ(daemon_error(R"({"type":"result","id":1,"response":{"data":{}}})"),
              "result: \"response\" must carry a boolean \"ok\"");
    EXPECT_EQ(daemon_error(R"({"type":"pong"})"), "pong: missing field \"id\"");
    EXPECT_EQ(broker_error(R"({"type":"welcome","member":"m","state_interval":0})"),
              "welcome: \"state_interval\" must be an integer from 1 to 3600");
    EXPECT_EQ(broker_error(R"({"type":"command","id":1,"actor":"a","request":{"id":2}})"),
              "command: \"request\" must carry a \"command\" name");
    EXPECT_EQ(broker_error(R"({"type":"ping","id":"1"})"),
              "ping: \"id\" must be an integer from 0 to 9007199254740991");
}

TEST(SubscriptionMessages, DeepNestingIsRefused) {
    const std::string deep = R"({"type":"state","seq":1,"data":{"status":)" +
                             std::string(100000, '[') + std::string(100000, ']') + "}}";
    EXPECT_EQ(daemon_error(deep), "message nested deeper than 32 levels");
}

TEST(SubscriptionMessages, InvalidUtf8FromTheHostIsReplacedNotThrown) {
    const std::string text = serialise(DaemonMessage{Hello{1, "h\xff", "1", {}}});
    EXPECT_NE(text.find("h\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(SubscriptionMessages, ReaderCutsFramesAndStopsAtOversize) {
    DaemonMessageReader reader;
    auto bytes = encode_message(DaemonMessage{Pong{1}});
    const auto second = encode_message(DaemonMessage{Event{"leap", "insert"}});
    bytes.insert(bytes.end(), second.begin(), second.end());
    for (uint8_t b : bytes) reader.feed(std::span(&b, 1));  // one byte at a time
    auto first = reader.next();
    ASSERT_TRUE(first && first->message);
    EXPECT_EQ(std::get<Pong>(*first->message).id, 1u);
    auto next = reader.next();
    ASSERT_TRUE(next && next->message);
    EXPECT_EQ(std::get<Event>(*next->message).kind, "leap");
    EXPECT_FALSE(reader.next());

    const uint8_t too_long[] = {0x00, 0x10, 0x00, 0x01};  // 1 MiB + 1
    reader.feed(too_long);
    EXPECT_FALSE(reader.next());
    EXPECT_TRUE(reader.failed());
    EXPECT_EQ(reader.buffered(), 0u);
}

TEST(SubscriptionMessages, ReaderReportsAMalformedFrameAndGoesOn) {
    BrokerMessageReader reader;
    reader.feed(ctl::encode_frame("not json"));
    reader.feed(encode_message(BrokerMessage{Ping{2}}));
    const auto bad = reader.next();
    ASSERT_TRUE(bad);
    EXPECT_FALSE(bad->message);
    EXPECT_EQ(bad->error, "message is not valid JSON (UTF-8)");
    const auto good = reader.next();
    ASSERT_TRUE(good && good->message);
    EXPECT_EQ(std::get<Ping>(*good->message).id, 2u);
}

}  // namespace
}  // namespace nanotime::broker
