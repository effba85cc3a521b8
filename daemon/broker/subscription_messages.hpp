// subscription_messages.hpp - the broker subscription channel's messages,
// sans I/O: each message type as a struct, parsed from and serialised to
// the JSON text one frame carries (PROTOCOL.md is the normative spec).
//
// Frames are the control socket's (ctl/framing.hpp: 4-byte big-endian
// length, then UTF-8 JSON) with a 1 MiB limit. Parsing is strict: the
// "type" must be known and sent in the right direction, every required
// field present with the right JSON type and within its bounds, and no
// field the type does not define. A failure names the type and the field.
// Broker and daemon share this file, so both sides agree on every byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ctl/framing.hpp"

namespace nanotime::broker {

inline constexpr int kSubscriptionProtocol = 1;
inline constexpr size_t kMaxSubscriptionFrame = size_t{1024} * 1024;
// The Upgrade token of GET /v1/subscribe and the path it is sent to.
inline constexpr std::string_view kSubscriptionUpgrade = "nanotime-subscription/1";
inline constexpr std::string_view kSubscriptionPath = "/v1/subscribe";
// JSON nesting deeper than this is refused (stack-safe serialising).
inline constexpr int kMaxMessageDepth = 32;
// Ids and sequence numbers stay exactly representable as IEEE doubles, so
// a JavaScript dashboard or a Python client sees the same number.
inline constexpr uint64_t kMaxMessageInteger = (uint64_t{1} << 53) - 1;
// Bounds of the string fields (bytes).
inline constexpr size_t kMaxHostBytes = 253;
inline constexpr size_t kMaxNameBytes = 64;  // version, role, event kind, member, actor
inline constexpr size_t kMaxTextBytes = 1024;
inline constexpr size_t kMaxRoles = 16;
inline constexpr uint32_t kMaxStateInterval = 3600;  // seconds
// The keys a state message's "data" may carry: control-socket view names.
inline constexpr std::string_view kStateViews[] = {"status",      "tracking", "sources",
                                                   "serverstats", "kernel",   "pps"};

// daemon → broker
struct Hello {
    int protocol = kSubscriptionProtocol;
    std::string host;
    std::string version;
    std::vector<std::string> roles;  // "server", "client", "broker", ...
    bool operator==(const Hello&) const = default;
};
struct State {
    uint64_t seq = 0;
    nlohmann::json data = nlohmann::json::object();  // view name → that view's data object
    bool operator==(const State&) const = default;
};
struct Event {
    std::string kind;  // e.g. "source_selected", "step", "leap", "unsync"
    std::string text;
    bool operator==(const Event&) const = default;
};
struct Result {
    uint64_t id = 0;
    nlohmann::json response = nlohmann::json::object();  // control-socket response object
    bool operator==(const Result&) const = default;
};
struct Pong {
    uint64_t id = 0;
    bool operator==(const Pong&) const = default;
};

// broker → daemon
struct Welcome {
    std::string member;
    uint32_t state_interval = 5;  // seconds, 1 .. kMaxStateInterval
    bool operator==(const Welcome&) const = default;
};
struct Command {
    uint64_t id = 0;
    std::string actor;                                  // who asked (audit name)
    nlohmann::json request = nlohmann::json::object();  // control-socket request object
    bool operator==(const Command&) const = default;
};
struct Ping {
    uint64_t id = 0;
    bool operator==(const Ping&) const = default;
};

using DaemonMessage = std::variant<Hello, State, Event, Result, Pong>;
using BrokerMessage = std::variant<Welcome, Command, Ping>;

// A parse either yields the message or says why not.
template <typename Message>
struct Parsed {
    std::optional<Message> message;
    std::string error;  // empty when message is set
};

// One frame's body, as the broker reads it (daemon → broker messages only).
Parsed<DaemonMessage> parse_daemon_message(std::string_view body);
// One frame's body, as the daemon reads it (broker → daemon messages only).
Parsed<BrokerMessage> parse_broker_message(std::string_view body);

// The JSON text of a message (the frame body), and the framed bytes.
std::string serialise(const DaemonMessage& message);
std::string serialise(const BrokerMessage& message);
template <typename Message>
std::vector<uint8_t> encode_message(const Message& message) {
    return ctl::encode_frame(serialise(message));
}

// The type name a message carries ("hello", ...).
std::string_view message_type(const DaemonMessage& message);
std::string_view message_type(const BrokerMessage& message);

// Stream bytes in, parsed messages out: the frame decoder and the parser
// for one direction. A frame over the limit fails the stream for good (the
// connection must end); a frame that does not parse is reported and the
// stream goes on (the caller decides whether to drop the peer).
template <typename Message>
class MessageReader {
  public:
    MessageReader() : frames_(kMaxSubscriptionFrame) {}
    void feed(std::span<const uint8_t> bytes) { frames_.feed(bytes); }
    std::optional<Parsed<Message>> next() {
        auto body = frames_.next();
        if (!body) return std::nullopt;
        if constexpr (std::is_same_v<Message, DaemonMessage>) {
            return parse_daemon_message(*body);
        } else {
            return parse_broker_message(*body);
        }
    }
    bool failed() const { return frames_.failed(); }
    size_t buffered() const { return frames_.buffered(); }

  private:
    ctl::FrameDecoder frames_;
};

using DaemonMessageReader = MessageReader<DaemonMessage>;  // the broker's side
using BrokerMessageReader = MessageReader<BrokerMessage>;  // the daemon's side

}  // namespace nanotime::broker
