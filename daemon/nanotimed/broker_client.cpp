// broker_client.cpp - the member's subscription I/O (see broker_client.hpp).
#include "nanotimed/broker_client.hpp"

#include <sys/utsname.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "broker/member_state.hpp"
#include "nanotimed/snapshot_builder.hpp"

namespace nanotime::daemon {
namespace {

std::string read_pem(const std::string& path, const char* key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(std::string("broker_client.") + key + " " + path + ": " +
                                 std::generic_category().message(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string node_name() {
    utsname u{};
    return uname(&u) == 0 ? std::string(u.nodename) : std::string("-");
}

std::string seconds_text(std::chrono::steady_clock::duration d) {
    const double s = std::chrono::duration<double>(d).count();
    std::ostringstream o;
    o.precision(s < 10 ? 2 : 3);
    o << s;
    return o.str();
}

}  // namespace

BrokerClient::BrokerClient(const config::BrokerClientConfig& config, io::EventLoop& loop,
                           io::RateLimitedLog& log, ntp::RandomSource& random,
                           std::vector<std::string> roles, SnapshotFn snapshot, ActionFn on_action,
                           ManageFn manage, StepsFn clock_steps)
    : config_(config),
      loop_(loop),
      log_(log),
      snapshot_(std::move(snapshot)),
      on_action_(std::move(on_action)),
      manage_(std::move(manage)),
      clock_steps_(std::move(clock_steps)),
      session_(
          [&] {
              broker::SubscriberOptions o;
              o.broker_host = config.host;
              o.broker_port = config.port;
              o.host_name = node_name();
              o.version = kVersion;
              o.roles = std::move(roles);
              o.state_interval = config.state_interval;
              o.allow_management = config.allow_management;
              return o;
          }(),
          [&random] { return random.unit(); }),
      resolver_(loop, [this](const Resolution& r) { connect_to(r); }) {
    io::TlsClientConfig c;
    if (!config_.trusted_ca.empty()) c.trusted_pem = read_pem(config_.trusted_ca, "trusted_ca");
    c.certificate_pem = read_pem(config_.certificate, "certificate");
    c.private_key_pem = read_pem(config_.private_key, "private_key");
    c.server_name = config_.host;
    c.alpn = {"http/1.1"};
    try {
        tls_ = io::TlsContext::client(c);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("[broker_client] ") + e.what());
    }
}

BrokerClient::~BrokerClient() {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    if (command_timer_ != 0) loop_.cancel_timer(command_timer_);
    if (observe_timer_ != 0) loop_.cancel_timer(observe_timer_);
}

void BrokerClient::start() {
    log_.info(io::LogClass::Control, "broker_client: subscribing to " + config_.url);
    apply(session_.start(std::chrono::steady_clock::now()));
    observe();
}

void BrokerClient::apply(broker::SubscriberActions actions) {
    using Kind = broker::SubscriberAction::Kind;
    for (broker::SubscriberAction& a : actions) {
        switch (a.kind) {
            case Kind::Connect:
                drop_stream();
                resolver_.resolve(++generation_, config_.host);
                break;
            case Kind::Send:
                send(a.bytes);
                break;
            case Kind::Close:
                drop_stream();
                break;
            case Kind::RunCommand:
                queue_command(std::move(a));
                break;
            case Kind::NeedState:
                apply(session_.send_state(std::chrono::steady_clock::now(),
                                          broker::state_data(snapshot_())));
                break;
        }
    }
    // The session call that made @actions has changed the phase already:
    // compared with the phase the last apply() saw.
    const broker::SubscriberSession::Phase now_phase = session_.phase();
    if (now_phase != logged_phase_) {
        logged_phase_ = now_phase;
        using Phase = broker::SubscriberSession::Phase;
        if (now_phase == Phase::Subscribed) {
            log_.info(io::LogClass::Control, "broker_client: subscribed to " + config_.url +
                                                 " as member '" + session_.member() + "'");
        } else if (now_phase == Phase::Backoff) {
            drop_stream();
            log_.warn(io::LogClass::Control,
                      "broker_client: " + session_.last_error() + "; next attempt in " +
                          seconds_text(session_.wakeup() - std::chrono::steady_clock::now()) +
                          " s");
        }
    }
    arm_timer();
}

void BrokerClient::queue_command(broker::SubscriberAction command) {
    if (commands_.size() >= kMaxQueuedCommands) {
        // The session admits 50 messages a second; a queue this long means
        // the commands arrive faster than the loop runs them: leave.
        ++generation_;
        drop_stream();
        apply(session_.on_closed(
            std::chrono::steady_clock::now(),
            "more than " + std::to_string(kMaxQueuedCommands) + " relayed commands waiting"));
        return;
    }
    commands_.push_back(QueuedCommand{std::move(command), generation_});
    arm_command_timer();
}

void BrokerClient::arm_command_timer() {
    if (command_timer_ != 0 || commands_.empty()) return;
    command_timer_ = loop_.add_timer_after(std::chrono::nanoseconds(0), [this] {
        command_timer_ = 0;
        run_next_command();
    });
}

// One relayed command per loop turn: a burst of commands from the broker
// (up to the session's 50 a second, each a snapshot of the daemon) is spread
// over turns of the loop, so the NTP sockets are served between them.
void BrokerClient::run_next_command() {
    if (commands_.empty()) return;
    QueuedCommand next = std::move(commands_.front());
    commands_.pop_front();
    // A command of a connection that has ended is not answered on the next.
    if (next.generation == generation_) {
        const broker::SubscriberAction& a = next.action;
        ctl::Caller caller;
        caller.privileged = a.privileged;
        const std::string who = "broker (" + (a.actor.empty() ? "?" : a.actor) + ")";
        ctl::ManageFn manage;
        if (manage_) manage = [&](const ctl::ManageRequest& m) { return manage_(m, who); };
        const ctl::HandlerResult r = ctl::handle_request(a.text, caller, snapshot_(), manage);
        apply(session_.command_result(a.id, r.response));
        // As the control server: the answer first, then the action.
        if (r.action != ctl::Action::None && on_action_) on_action_(r.action, who);
    }
    arm_command_timer();
}

void BrokerClient::connect_to(const Resolution& r) {
    if (r.tag != generation_ || session_.phase() != broker::SubscriberSession::Phase::Connecting)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (r.addresses.empty()) {
        apply(session_.on_closed(now, "cannot resolve " + config_.host + ": " + r.error));
        return;
    }
    ntp::SocketAddress to;
    to.ip = r.addresses.front();
    to.port = config_.port;
    to.scope_id = r.scope_id;
    const uint64_t gen = generation_;
    io::StreamClient::Handlers h;
    h.on_open = [this, gen] {
        if (gen == generation_) apply(session_.on_connected(std::chrono::steady_clock::now()));
    };
    h.on_data = [this, gen](std::span<const uint8_t> data) {
        if (gen == generation_) apply(session_.on_data(std::chrono::steady_clock::now(), data));
    };
    h.on_close = [this, gen](const std::string& error) {
        if (gen != generation_) return;
        ++generation_;  // this stream is finished: nothing more from it counts
        apply(session_.on_closed(std::chrono::steady_clock::now(), error));
    };
    stream_ =
        std::make_unique<io::StreamClient>(loop_, to, tls_, std::move(h),
                                           std::chrono::duration_cast<std::chrono::milliseconds>(
                                               broker::SubscriberSession::kConnectTimeout),
                                           kMaxQueuedBytes);
}

void BrokerClient::send(std::span<const uint8_t> bytes) {
    if (!stream_) return;
    if (stream_->queued_bytes() + bytes.size() > kMaxQueuedBytes) {
        // The broker stopped reading: leave it rather than hold more.
        ++generation_;
        drop_stream();
        apply(session_.on_closed(std::chrono::steady_clock::now(),
                                 "the broker is not reading (256 KiB unsent)"));
        return;
    }
    stream_->send(bytes);
}

void BrokerClient::drop_stream() {
    stream_.reset();  // closes at once, without callbacks (also from inside its own)
}

void BrokerClient::arm_timer() {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = loop_.add_timer(session_.wakeup(), [this] {
        timer_ = 0;
        apply(session_.on_timer(std::chrono::steady_clock::now()));
    });
}

void BrokerClient::observe() {
    observe_timer_ = loop_.add_timer_after(kObserveInterval, [this] {
        observe_timer_ = 0;
        if (session_.phase() == broker::SubscriberSession::Phase::Subscribed) {
            apply(session_.observe(std::chrono::steady_clock::now(),
                                   broker::observation_of(snapshot_(), clock_steps_())));
        }
        observe();
    });
}

}  // namespace nanotime::daemon
