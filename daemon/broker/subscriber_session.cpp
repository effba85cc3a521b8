// subscriber_session.cpp - the member's subscription protocol (see
// subscriber_session.hpp).
#include "broker/subscriber_session.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace nanotime::broker {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Nesting allowed in a broker message: the request inside a command is an
// object of scalars (depth 2 in the message); more is hostile.
constexpr int kMaxMessageDepth = 16;

SubscriberAction action(SubscriberAction::Kind kind) {
    SubscriberAction a{};
    a.kind = kind;
    return a;
}

std::optional<json> parse_message(const std::string& text) {
    bool too_deep = false;
    json::parser_callback_t limit = [&too_deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxMessageDepth) too_deep = true;
        return !too_deep;
    };
    json j = json::parse(text, limit, /*allow_exceptions=*/false);
    if (too_deep || j.is_discarded() || !j.is_object()) return std::nullopt;
    auto type = j.find("type");
    if (type == j.end() || !type->is_string()) return std::nullopt;
    return j;
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

SubscriberActions SubscriberSession::on_data(Clock::time_point now,
                                             std::span<const uint8_t> data) {
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
        frames_.emplace(kMaxFrame);
        json hello = {{"type", "hello"},
                      {"protocol", 1},
                      {"host", options_.host_name},
                      {"version", options_.version},
                      {"roles", options_.roles}};
        send_message(hello.dump(), out);
        std::vector<uint8_t> first = std::move(upgrade_->leftover());
        upgrade_.reset();
        last_received_ = now;
        if (first.empty()) return out;
        SubscriberActions more = on_data(now, first);
        out.insert(out.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
        return out;
    }
    if (phase_ != Phase::AwaitWelcome && phase_ != Phase::Subscribed) return out;
    last_received_ = now;
    frames_->feed(data);
    while (auto frame = frames_->next()) {
        if (now - rate_window_ >= 1s) {
            rate_window_ = now;
            messages_in_window_ = 0;
        }
        if (++messages_in_window_ > kMaxMessagesPerSecond) {
            SubscriberActions closing = close(now, "broker sent more than 50 messages in 1 s");
            out.insert(out.end(), std::make_move_iterator(closing.begin()),
                       std::make_move_iterator(closing.end()));
            return out;
        }
        handle_message(now, *frame, out);
        if (phase_ == Phase::Backoff) return out;  // the message ended the connection
    }
    if (frames_->failed()) {
        SubscriberActions closing = close(now, "broker sent a frame above 1 MiB");
        out.insert(out.end(), std::make_move_iterator(closing.begin()),
                   std::make_move_iterator(closing.end()));
    }
    return out;
}

void SubscriberSession::handle_message(Clock::time_point now, const std::string& frame,
                                       SubscriberActions& out) {
    const std::optional<json> message = parse_message(frame);
    if (!message) {
        ++counters_.bad_messages;
        return;
    }
    const std::string& type = (*message)["type"].get_ref<const std::string&>();
    if (type == "ping") {
        auto id = message->find("id");
        if (id == message->end() || !id->is_number_unsigned()) {
            ++counters_.bad_messages;
            return;
        }
        send_message(json{{"type", "pong"}, {"id", *id}}.dump(), out);
    } else if (type == "welcome") {
        auto member = message->find("member");
        auto interval = message->find("state_interval");
        if ((member != message->end() && !member->is_string()) ||
            (interval != message->end() && !interval->is_number())) {
            ++counters_.bad_messages;
            return;
        }
        if (member != message->end()) member_ = member->get<std::string>();
        double seconds = kDefaultStateInterval;
        if (interval != message->end()) seconds = std::clamp(interval->get<double>(), 1.0, 3600.0);
        state_interval_s_ = options_.state_interval > 0 ? options_.state_interval : seconds;
        if (phase_ == Phase::AwaitWelcome) {
            phase_ = Phase::Subscribed;
            ++counters_.subscriptions;
            backoff_ = kMinBackoff;  // a broker that welcomes us is back: reconnect fast
            last_error_.clear();
            request_state(out);
        }
        next_state_ = now + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(state_interval_s_));
    } else if (type == "command") {
        auto id = message->find("id");
        auto request = message->find("request");
        if (id == message->end() || !id->is_number_unsigned()) {
            ++counters_.bad_messages;
            return;
        }
        if (request == message->end() || !request->is_object()) {
            ++counters_.bad_messages;
            json refusal = {{"ok", false}, {"error", "command without a request object"}};
            send_message(json{{"type", "result"}, {"id", *id}, {"response", refusal}}.dump(), out);
            return;
        }
        ++counters_.commands;
        SubscriberAction run = action(SubscriberAction::Kind::RunCommand);
        run.id = id->get<uint64_t>();
        run.text = request->dump();
        run.privileged = options_.allow_management;
        if (auto actor = message->find("actor"); actor != message->end() && actor->is_string())
            run.actor = actor->get<std::string>();
        out.push_back(std::move(run));
    } else {
        ++counters_.unknown_messages;  // a newer broker's: not ours to judge
    }
}

SubscriberActions SubscriberSession::command_result(uint64_t id, const std::string& response_json) {
    SubscriberActions out;
    if (phase_ != Phase::AwaitWelcome && phase_ != Phase::Subscribed) return out;
    // The control handler's response is a JSON object already: spliced in,
    // not parsed and dumped again.
    send_message(R"({"type":"result","id":)" + std::to_string(id) +
                     R"(,"response":)" + response_json + "}",
                 out);
    return out;
}

SubscriberActions SubscriberSession::send_state(Clock::time_point now,
                                                const std::string& data_json) {
    SubscriberActions out;
    state_requested_ = false;
    if (phase_ != Phase::Subscribed) return out;
    send_message(R"({"type":"state","seq":)" + std::to_string(++seq_) + R"(,"data":)" + data_json +
                     "}",
                 out);
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
        send_message(json{{"type", "event"}, {"kind", kind}, {"text", text}}.dump(), out);
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
    frames_.reset();
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
    frames_.reset();
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

void SubscriberSession::send_message(const std::string& json_text, SubscriberActions& out) {
    SubscriberAction send = action(SubscriberAction::Kind::Send);
    send.bytes = ctl::encode_frame(json_text);
    out.push_back(std::move(send));
}

void SubscriberSession::request_state(SubscriberActions& out) {
    if (state_requested_) return;
    state_requested_ = true;
    out.push_back(action(SubscriberAction::Kind::NeedState));
}

}  // namespace nanotime::broker
