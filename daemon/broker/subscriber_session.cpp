// subscriber_session.cpp - the member's subscription protocol (see
// subscriber_session.hpp).
#include "broker/subscriber_session.hpp"

#include <algorithm>

namespace nanotime::broker {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

SubscriberAction action(SubscriberAction::Kind kind) {
    SubscriberAction a{};
    a.kind = kind;
    return a;
}

void append(SubscriberActions& out, SubscriberActions more) {
    out.insert(out.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
}

// Event text is at most kMaxTextBytes (the codec's bound).
std::string bounded_text(std::string text) {
    if (text.size() > kMaxTextBytes) text.resize(kMaxTextBytes);
    return text;
}

}  // namespace

const char* to_string(SubscriberSession::Phase phase) {
    switch (phase) {
        case SubscriberSession::Phase::Backoff:
            return "backoff";
        case SubscriberSession::Phase::Connecting:
            return "connecting";
        case SubscriberSession::Phase::Upgrading:
            return "upgrading";
        case SubscriberSession::Phase::AwaitWelcome:
            return "awaiting welcome";
        case SubscriberSession::Phase::Subscribed:
            return "subscribed";
    }
    return "?";
}

SubscriberSession::SubscriberSession(SubscriberOptions options, std::function<double()> random01)
    : options_(std::move(options)), random01_(std::move(random01)) {}

SubscriberActions SubscriberSession::start(Clock::time_point now) {
    next_connect_ = now;
    return on_timer(now);
}

SubscriberActions SubscriberSession::on_connected(Clock::time_point now) {
    (void)now;
    SubscriberActions out;
    if (phase_ != Phase::Connecting) return out;
    phase_ = Phase::Upgrading;
    upgrade_.emplace();
    const std::string request = upgrade_request(options_.broker_host, options_.broker_port);
    SubscriberAction send = action(SubscriberAction::Kind::Send);
    send.bytes.assign(request.begin(), request.end());
    out.push_back(std::move(send));
    return out;
}

SubscriberActions SubscriberSession::on_data(Clock::time_point now, std::span<const uint8_t> data) {
    SubscriberActions out;
    if (phase_ == Phase::Upgrading) {
        switch (upgrade_->feed(data)) {
            case UpgradeResponse::Status::NeedMore:
                return out;
            case UpgradeResponse::Status::Refused:
            case UpgradeResponse::Status::Malformed:
                return close(now, upgrade_->reason());
            case UpgradeResponse::Status::Upgraded:
                break;
        }
        phase_ = Phase::AwaitWelcome;
        deadline_ = now + kWelcomeTimeout;
        reader_.emplace();
        Hello hello;
        hello.host = options_.host_name;
        hello.version = options_.version;
        hello.roles = options_.roles;
        send_message(hello, out);
        std::vector<uint8_t> first = std::move(upgrade_->leftover());
        upgrade_.reset();
        last_received_ = now;
        if (first.empty()) return out;
        append(out, on_data(now, first));
        return out;
    }
    if (phase_ != Phase::AwaitWelcome && phase_ != Phase::Subscribed) return out;
    last_received_ = now;
    reader_->feed(data);
    while (auto parsed = reader_->next()) {
        if (now - rate_window_ >= std::chrono::seconds(1)) {
            rate_window_ = now;
            messages_in_window_ = 0;
        }
        if (++messages_in_window_ > kMaxMessagesPerSecond) {
            append(out, close(now, "broker sent more than 50 messages in 1 s"));
            return out;
        }
        if (!handle_message(now, *parsed, out)) return out;
    }
    if (reader_->failed()) append(out, close(now, "broker sent a frame above 1 MiB"));
    return out;
}

bool SubscriberSession::handle_message(Clock::time_point now, const Parsed<BrokerMessage>& parsed,
                                       SubscriberActions& out) {
    if (!parsed.message) {
        ++counters_.bad_messages;
        append(out, close(now, "malformed message from the broker: " + parsed.error));
        return false;
    }
    if (const auto* ping = std::get_if<Ping>(&*parsed.message)) {
        send_message(Pong{ping->id}, out);
    } else if (const auto* welcome = std::get_if<Welcome>(&*parsed.message)) {
        member_ = welcome->member;
        state_interval_s_ = options_.state_interval > 0
                                ? options_.state_interval
                                : static_cast<double>(welcome->state_interval);
        if (phase_ == Phase::AwaitWelcome) {
            phase_ = Phase::Subscribed;
            ++counters_.subscriptions;
            backoff_ = kMinBackoff;  // a broker that welcomes us is back: reconnect fast
            last_error_.clear();
            request_state(out);
        }
        next_state_ = now + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(state_interval_s_));
    } else if (const auto* command = std::get_if<Command>(&*parsed.message)) {
        ++counters_.commands;
        SubscriberAction run = action(SubscriberAction::Kind::RunCommand);
        run.id = command->id;
        run.text = command->request.dump();
        run.actor = command->actor;
        run.privileged = options_.allow_management;
        out.push_back(std::move(run));
    }
    return true;
}

SubscriberActions SubscriberSession::command_result(uint64_t id, const std::string& response_json) {
    SubscriberActions out;
    if (phase_ != Phase::AwaitWelcome && phase_ != Phase::Subscribed) return out;
    Result result;
    result.id = id;
    result.response = json::parse(response_json, nullptr, /*allow_exceptions=*/false);
    if (!result.response.is_object() || !result.response.contains("ok")) {
        result.response = {{"ok", false}, {"error", "the control handler's answer is not JSON"}};
    }
    send_message(result, out);
    return out;
}

SubscriberActions SubscriberSession::send_state(Clock::time_point now, json data) {
    SubscriberActions out;
    state_requested_ = false;
    if (phase_ != Phase::Subscribed) return out;
    State state;
    state.seq = ++seq_;
    state.data = std::move(data);
    send_message(state, out);
    ++counters_.states_sent;
    next_state_ = now + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(state_interval_s_));
    return out;
}

SubscriberActions SubscriberSession::observe(Clock::time_point now,
                                             const Observation& observation) {
    (void)now;
    SubscriberActions out;
    const std::optional<Observation> before = last_observation_;
    last_observation_ = observation;
    // Events while no broker listens are not kept: the state sent after the
    // next welcome says where things stand.
    if (!before || phase_ != Phase::Subscribed) return out;
    auto event = [&](const char* kind, const std::string& text) {
        send_message(Event{kind, bounded_text(text)}, out);
        ++counters_.events_sent;
    };
    if (observation.selected_source != before->selected_source) {
        if (observation.selected_source.empty()) {
            event("source_lost", "no source selected (was " + before->selected_source + ")");
        } else {
            event("source_selected",
                  observation.selected_source + " selected (was " +
                      (before->selected_source.empty() ? "none" : before->selected_source) + ")");
        }
    }
    if (observation.clock_steps > before->clock_steps) {
        event("step", "the clock was stepped (" + std::to_string(observation.clock_steps) +
                          " steps since start)");
    }
    if (observation.leap != before->leap) {
        event("leap", "leap indicator " + before->leap + " -> " + observation.leap);
    }
    if (observation.synchronized != before->synchronized) {
        if (observation.synchronized) {
            event("sync", "synchronised");
        } else {
            event("unsync", "no longer synchronised");
        }
    }
    if (!out.empty()) request_state(out);
    return out;
}

SubscriberActions SubscriberSession::on_closed(Clock::time_point now, const std::string& why) {
    SubscriberActions out;
    if (phase_ == Phase::Backoff) return out;  // we closed it, or a stale report
    last_error_ = why.empty() ? "the broker closed the connection" : why;
    upgrade_.reset();
    reader_.reset();
    state_requested_ = false;
    phase_ = Phase::Backoff;
    schedule_reconnect(now);
    return out;
}

SubscriberActions SubscriberSession::on_timer(Clock::time_point now) {
    SubscriberActions out;
    switch (phase_) {
        case Phase::Backoff:
            if (now < next_connect_) break;
            phase_ = Phase::Connecting;
            deadline_ = now + kConnectTimeout;
            ++counters_.connects;
            out.push_back(action(SubscriberAction::Kind::Connect));
            break;
        case Phase::Connecting:
        case Phase::Upgrading:
            if (now >= deadline_) return close(now, "no subscription within 10 s of connecting");
            break;
        case Phase::AwaitWelcome:
            if (now >= deadline_) return close(now, "no welcome within 10 s of the upgrade");
            break;
        case Phase::Subscribed:
            if (now - last_received_ >= kSilenceTimeout)
                return close(now, "nothing from the broker for 90 s");
            if (now >= next_state_) request_state(out);
            break;
    }
    return out;
}

Clock::time_point SubscriberSession::wakeup() const {
    switch (phase_) {
        case Phase::Backoff:
            return next_connect_;
        case Phase::Connecting:
        case Phase::Upgrading:
        case Phase::AwaitWelcome:
            return deadline_;
        case Phase::Subscribed: {
            const Clock::time_point silent = last_received_ + kSilenceTimeout;
            return state_requested_ ? silent : std::min(silent, next_state_);
        }
    }
    return next_connect_;
}

SubscriberActions SubscriberSession::close(Clock::time_point now, const std::string& why) {
    SubscriberActions out;
    SubscriberAction c = action(SubscriberAction::Kind::Close);
    c.text = why;
    out.push_back(std::move(c));
    last_error_ = why;
    upgrade_.reset();
    reader_.reset();
    state_requested_ = false;
    phase_ = Phase::Backoff;
    schedule_reconnect(now);
    return out;
}

void SubscriberSession::schedule_reconnect(Clock::time_point now) {
    // Drawn from [backoff/2, backoff], then the next backoff doubles.
    const double factor = 0.5 + 0.5 * std::clamp(random01_(), 0.0, 1.0);
    const auto delay = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(static_cast<double>(backoff_.count()) * factor));
    next_connect_ = now + delay;
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff);
}

void SubscriberSession::send_message(const DaemonMessage& message, SubscriberActions& out) {
    SubscriberAction send = action(SubscriberAction::Kind::Send);
    send.bytes = encode_message(message);
    out.push_back(std::move(send));
}

void SubscriberSession::request_state(SubscriberActions& out) {
    if (state_requested_) return;
    state_requested_ = true;
    out.push_back(action(SubscriberAction::Kind::NeedState));
}

}  // namespace nanotime::broker
