// broker_client.hpp - nanotimed as a member of a fleet broker ([broker_client]):
// the I/O around broker::SubscriberSession (daemon/broker). It dials the
// broker (host name through the Resolver, TCP + TLS 1.3 with the member's
// client certificate, io::StreamClient), moves bytes between the stream and
// the session, keeps one timer at the session's wake-up, builds the state
// the session asks for and runs relayed commands through the control
// handler (ctl::handle_request) as the control socket does: a privileged
// caller unless allow_management = false, and the Action carried out by
// the same function the control server calls.
//
// On the main loop, like the NTS-KE client: the work is a TLS handshake per
// connection (0.1 ms, at most once a second, backed off to once in 5 min),
// a snapshot per state message (every few seconds) or command — relayed
// commands run one per turn of the loop, so NTP packets are served between
// them — and the bytes of a few small messages. What keeps a broker that is down, slow or
// hostile from disturbing the NTP loop:
//   * connect + TLS + upgrade bounded by 10 s, the welcome by 10 s, silence
//     by 90 s (the session's timeouts), reconnecting with backoff;
//   * the output to the broker bounded: once kMaxQueuedBytes are waiting
//     (the broker stopped reading), the connection is dropped, not grown;
//   * the input bounded: frames up to 1 MiB, 50 messages a second (session);
//   * a name lookup on the resolver's thread, never on the loop.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "broker/subscriber_session.hpp"
#include "config/config.hpp"
#include "ctl/handler.hpp"
#include "ctl/snapshot.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "io/stream_client.hpp"
#include "io/tls_session.hpp"
#include "nanotimed/resolver.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

class BrokerClient {
  public:
    using SnapshotFn = std::function<ctl::DaemonSnapshot()>;
    // Carries out what a privileged command returned; @who names the actor.
    using ActionFn = std::function<void(ctl::Action, const std::string& who)>;
    // Carries out a management command (ctl/handler.hpp) for @who.
    using ManageFn =
        std::function<ctl::ManageOutcome(const ctl::ManageRequest&, const std::string& who)>;
    using StepsFn = std::function<uint64_t()>;  // clock steps since start

    // Unsent bytes allowed to a broker that does not read.
    static constexpr size_t kMaxQueuedBytes = size_t{256} * 1024;
    // Relayed commands that may wait for their turn of the loop.
    static constexpr size_t kMaxQueuedCommands = 64;
    // How often events are looked for (the observation's changes).
    static constexpr std::chrono::seconds kObserveInterval{1};

    // Privileged, before seccomp: reads the PEM files and makes the TLS
    // context. Throws std::runtime_error naming the file or the problem.
    BrokerClient(const config::BrokerClientConfig& config, io::EventLoop& loop,
                 io::RateLimitedLog& log, ntp::RandomSource& random, std::vector<std::string> roles,
                 SnapshotFn snapshot, ActionFn on_action, ManageFn manage, StepsFn clock_steps);
    ~BrokerClient();
    BrokerClient(const BrokerClient&) = delete;
    BrokerClient& operator=(const BrokerClient&) = delete;

    // After the privilege drop and seccomp: the first connection.
    void start();

    const broker::SubscriberSession& session() const { return session_; }

  private:
    void apply(broker::SubscriberActions actions);
    void queue_command(broker::SubscriberAction command);
    void arm_command_timer();
    void run_next_command();
    void connect_to(const Resolution& r);
    void send(std::span<const uint8_t> bytes);
    void arm_timer();
    void observe();
    void drop_stream();

    config::BrokerClientConfig config_;
    io::EventLoop& loop_;
    io::RateLimitedLog& log_;
    SnapshotFn snapshot_;
    ActionFn on_action_;
    ManageFn manage_;
    StepsFn clock_steps_;
    std::shared_ptr<io::TlsContext> tls_;
    broker::SubscriberSession session_;
    Resolver resolver_;
    std::unique_ptr<io::StreamClient> stream_;
    uint64_t generation_ = 0;  // of the connection attempt; stale callbacks are ignored
    uint64_t timer_ = 0;
    uint64_t observe_timer_ = 0;
    // Relayed commands waiting for their turn of the loop, each with the
    // generation of the connection it came on.
    struct QueuedCommand {
        broker::SubscriberAction action;
        uint64_t generation = 0;
    };
    std::deque<QueuedCommand> commands_;
    uint64_t command_timer_ = 0;
    // The phase last logged: a change to Subscribed or Backoff is logged once.
    broker::SubscriberSession::Phase logged_phase_ = broker::SubscriberSession::Phase::Backoff;
};

}  // namespace nanotime::daemon
