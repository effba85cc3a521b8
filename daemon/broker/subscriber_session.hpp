// subscriber_session.hpp - a member's subscription to the fleet broker
// (daemon/broker/PROTOCOL.md), sans-IO: fed connection events, received
// bytes, observations of the daemon and the time; returns what to do.
//
// Life of one connection:
//   Backoff ──(wake-up due)──► Connect
//   on_connected ──► send the upgrade request (GET /v1/subscribe)
//   101 ──► send hello; frames both ways from now on
//   welcome ──► state now, then every state_interval s
//   command ──► RunCommand (the daemon's control handler) ──► result
//   ping ──► pong
//   closed / refused / silent / bad stream ──► Close, then Backoff
// The reconnection delay doubles from 1 s to 5 min, each drawn at random
// from [d/2, d] (jitter: a broker restart is not met by the whole fleet in
// the same second); it returns to 1 s once a broker has welcomed us.
//
// Messages are parsed and written by the shared codec
// (subscription_messages.hpp); a message it refuses ends the connection, as
// PROTOCOL.md says.
//
// Timeouts (kConnectTimeout, kWelcomeTimeout, kSilenceTimeout) end a
// connection that stops making progress, so a stalled or hostile broker
// costs one connection's buffers and nothing else.
//
// Events: observe() is given the daemon's summary (selected source,
// synchronisation, leap, steps) whenever the caller likes (every second);
// a change is sent as an "event" message and a fresh "state" at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/subscription_messages.hpp"
#include "broker/upgrade_response.hpp"

namespace nanotime::broker {

using Clock = std::chrono::steady_clock;

struct SubscriberOptions {
    std::string broker_host;  // as in the URL: the Host header
    uint16_t broker_port = 4461;
    std::string host_name;           // this member's host name, for hello
    std::string version;             // nanotimed's, for hello
    std::vector<std::string> roles;  // "client", "server", "nts_ke", ...
    // Seconds between state messages; 0: the welcome's state_interval.
    double state_interval = 0;
    // Relayed commands run privileged (management allowed) or not.
    bool allow_management = true;
};

// What the daemon looks like now, for events.
struct Observation {
    std::string selected_source;  // "" when none
    bool synchronized = false;
    std::string leap = "none";  // none / insert / delete / unknown
    uint64_t clock_steps = 0;
};

struct SubscriberAction {
    enum class Kind {
        Connect,     // open TCP + TLS to the broker
        Send,        // bytes for the connection (plaintext; TLS is the caller's)
        Close,       // end the connection (reason: one line for the log)
        RunCommand,  // run request through the control handler, then command_result()
        NeedState,   // build the state data, then send_state()
    };
    Kind kind;
    std::vector<uint8_t> bytes;  // Send
    std::string text;            // Close: why; RunCommand: the request object (JSON)
    uint64_t id = 0;             // RunCommand: pass back to command_result()
    std::string actor;           // RunCommand: who asked, as the broker names them (log)
    bool privileged = false;     // RunCommand: as a privileged caller
};
using SubscriberActions = std::vector<SubscriberAction>;

struct SubscriberCounters {
    uint64_t connects = 0;       // connection attempts
    uint64_t subscriptions = 0;  // welcomes received
    uint64_t commands = 0;       // relayed commands run
    uint64_t bad_messages = 0;   // refused by the codec (each ended its connection)
    uint64_t states_sent = 0;
    uint64_t events_sent = 0;
};

class SubscriberSession {
  public:
    static constexpr std::chrono::seconds kMinBackoff{1};
    static constexpr std::chrono::seconds kMaxBackoff{300};
    // TCP + TLS + the 101, from Connect.
    static constexpr std::chrono::seconds kConnectTimeout{10};
    // From the 101 to the welcome.
    static constexpr std::chrono::seconds kWelcomeTimeout{10};
    // Nothing received for this long (the broker pings every 30 s): dead.
    static constexpr std::chrono::seconds kSilenceTimeout{90};
    static constexpr double kDefaultStateInterval = 5;  // s, if the welcome names none
    static constexpr size_t kMaxFrame = kMaxSubscriptionFrame;
    // Messages a broker may send per second (pings every 30 s, a command
    // per operator request): a broker above it is flooding the host (each
    // command builds a snapshot on the NTP loop), and is left.
    static constexpr unsigned kMaxMessagesPerSecond = 50;

    enum class Phase { Backoff, Connecting, Upgrading, AwaitWelcome, Subscribed };

    // @random01: uniform in [0, 1), for the jitter. The first connection is
    // made at the first wake-up (now, when start() is called).
    SubscriberSession(SubscriberOptions options, std::function<double()> random01);

    // The first Connect. Call once.
    SubscriberActions start(Clock::time_point now);
    // The connection is open (TLS handshake done).
    SubscriberActions on_connected(Clock::time_point now);
    // Plaintext from the broker.
    SubscriberActions on_data(Clock::time_point now, std::span<const uint8_t> data);
    // The connection ended (by either side, or failed to open); @why for the log.
    SubscriberActions on_closed(Clock::time_point now, const std::string& why);
    // Call at wakeup() (or later).
    SubscriberActions on_timer(Clock::time_point now);
    // The daemon's summary; differences from the last one become events.
    SubscriberActions observe(Clock::time_point now, const Observation& observation);
    // After NeedState: the "data" object of the state message.
    SubscriberActions send_state(Clock::time_point now, nlohmann::json data);
    // After RunCommand: the control handler's response (JSON text).
    SubscriberActions command_result(uint64_t id, const std::string& response_json);

    // When on_timer() is due next.
    Clock::time_point wakeup() const;
    Phase phase() const { return phase_; }
    const std::string& member() const { return member_; }  // from the welcome
    double state_interval() const { return state_interval_s_; }
    std::chrono::milliseconds current_backoff() const { return backoff_; }
    const SubscriberCounters& counters() const { return counters_; }
    // The reason the last connection ended ("" if none yet).
    const std::string& last_error() const { return last_error_; }

  private:
    SubscriberActions close(Clock::time_point now, const std::string& why);
    void schedule_reconnect(Clock::time_point now);
    // False: the message was refused and the connection closed.
    bool handle_message(Clock::time_point now, const Parsed<BrokerMessage>& parsed,
                        SubscriberActions& out);
    void send_message(const DaemonMessage& message, SubscriberActions& out);
    void request_state(SubscriberActions& out);

    SubscriberOptions options_;
    std::function<double()> random01_;
    Phase phase_ = Phase::Backoff;
    Clock::time_point next_connect_{};
    Clock::time_point deadline_{};  // Connecting/Upgrading/AwaitWelcome: give up then
    Clock::time_point last_received_{};
    Clock::time_point next_state_{};
    bool state_requested_ = false;  // NeedState out, send_state() not yet called
    std::chrono::milliseconds backoff_{kMinBackoff};
    double state_interval_s_ = kDefaultStateInterval;
    std::string member_;
    uint64_t seq_ = 0;
    Clock::time_point rate_window_{};  // the second messages_in_window_ counts in
    unsigned messages_in_window_ = 0;
    std::optional<UpgradeResponse> upgrade_;
    std::optional<BrokerMessageReader> reader_;
    std::optional<Observation> last_observation_;
    SubscriberCounters counters_;
    std::string last_error_;
};

const char* to_string(SubscriberSession::Phase phase);

}  // namespace nanotime::broker
