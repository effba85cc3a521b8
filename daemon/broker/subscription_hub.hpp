// subscription_hub.hpp - the broker's side of the members' subscriptions,
// sans I/O (PROTOCOL.md): per connection the hello/welcome exchange, state
// messages stored as the member's last-known status, events passed on,
// ping every 30 s with the connection dropped when no pong comes within
// 30 s, and relayed commands matched to their results by id, answered with
// "no response" after 10 s.
//
// The service feeds it bytes and times and carries out what it asks for
// through Io (send bytes, close a connection). Fleet changes (a member
// connects, sends state or an event, disconnects) go to @publish as JSON
// objects for the Server-Sent Events stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/broker_store.hpp"
#include "broker/subscription_messages.hpp"

namespace nanotime::broker {

inline constexpr int64_t kPingIntervalMs = 30'000;
inline constexpr int64_t kPongTimeoutMs = 30'000;
inline constexpr int64_t kRelayTimeoutMs = 10'000;
inline constexpr int64_t kHelloTimeoutMs = 10'000;  // from the 101 to the hello
// How long a member's state may wait in memory before it is written to the
// database (BrokerStore::member_state): the fleet's states in one
// transaction per second.
inline constexpr int64_t kStateFlushIntervalMs = 1'000;

class SubscriptionHub {
  public:
    struct Io {
        std::function<void(uint64_t conn, std::vector<uint8_t> bytes)> send;
        std::function<void(uint64_t conn)> close;
    };
    // A relayed command's outcome at @now_ms: the member's response object,
    // or none (timed out, or the member went away).
    using RelayDone = std::function<void(std::optional<nlohmann::json> response, int64_t now_ms)>;
    using Publish = std::function<void(const nlohmann::json& event)>;

    SubscriptionHub(BrokerStore& store, Io io, unsigned state_interval, Publish publish);

    // A connection was upgraded for @member (its certificate's name). A
    // member's older connection is closed: the newer one wins.
    void open(uint64_t conn, const std::string& member, int64_t now_ms);
    void receive(uint64_t conn, std::span<const uint8_t> bytes, int64_t now_ms);
    // The connection is gone (whoever closed it).
    void closed(uint64_t conn, int64_t now_ms);
    // Pings, pong and hello deadlines, relay timeouts, the states written
    // to the database (every kStateFlushIntervalMs). Call at least once a second.
    void tick(int64_t now_ms);

    bool connected(const std::string& member) const;
    // Sends @request to @member; false (and @done not called) when it has
    // no live, welcomed subscription.
    bool relay(const std::string& member, const nlohmann::json& request, const std::string& actor,
               RelayDone done, int64_t now_ms);
    // Ends @member's subscription, if any (e.g. its membership was deleted).
    void disconnect(const std::string& member, int64_t now_ms);
    // @member's membership was deleted: tells the fleet's followers.
    void deleted(const std::string& member);

    size_t sessions() const { return sessions_.size(); }
    // Seconds between a member's state messages (its welcome says so).
    unsigned state_interval() const { return state_interval_; }
    uint64_t malformed_messages() const { return malformed_; }

  private:
    struct Pending {
        RelayDone done;
        int64_t deadline_ms;
    };
    struct Session {
        std::string member;
        DaemonMessageReader reader;
        bool welcomed = false;
        int64_t opened_ms = 0;
        int64_t next_ping_ms = 0;
        std::optional<std::pair<uint64_t, int64_t>> awaiting_pong;  // id, deadline
        uint64_t next_id = 1;
        std::map<uint64_t, Pending> pending;  // command id → waiter
    };

    void handle(uint64_t conn, Session& s, DaemonMessage&& message, int64_t now_ms);
    void send(uint64_t conn, const BrokerMessage& message);
    // Closes @conn and forgets it (its waiters get no response).
    void drop(uint64_t conn, const std::string& why, int64_t now_ms);

    BrokerStore& store_;
    Io io_;
    unsigned state_interval_;
    Publish publish_;
    std::unordered_map<uint64_t, Session> sessions_;
    std::unordered_map<std::string, uint64_t> by_member_;
    uint64_t malformed_ = 0;
    int64_t next_flush_ms_ = 0;
};

}  // namespace nanotime::broker
