// subscription_hub.cpp - the members' subscriptions at the broker
// (subscription_hub.hpp).
#include "broker/subscription_hub.hpp"

#include <utility>

namespace nanotime::broker {

using nlohmann::json;

SubscriptionHub::SubscriptionHub(BrokerStore& store, Io io, unsigned state_interval,
                                 Publish publish)
    : store_(store),
      io_(std::move(io)),
      state_interval_(state_interval),
      publish_(std::move(publish)) {}

void SubscriptionHub::open(uint64_t conn, const std::string& member, int64_t now_ms) {
    const auto older = by_member_.find(member);
    if (older != by_member_.end() && older->second != conn) {
        drop(older->second, "replaced by a newer subscription", now_ms);
    }
    Session& s = sessions_[conn];
    s.member = member;
    s.opened_ms = now_ms;
    s.next_ping_ms = now_ms + kPingIntervalMs;
    by_member_[member] = conn;
}

void SubscriptionHub::receive(uint64_t conn, std::span<const uint8_t> bytes, int64_t now_ms) {
    auto it = sessions_.find(conn);
    if (it == sessions_.end()) return;
    it->second.reader.feed(bytes);
    while (true) {
        it = sessions_.find(conn);  // a message may have dropped the session
        if (it == sessions_.end()) return;
        Session& s = it->second;
        auto parsed = s.reader.next();
        if (s.reader.failed()) {
            ++malformed_;
            drop(conn, "frame longer than 1 MiB", now_ms);
            return;
        }
        if (!parsed) return;
        if (!parsed->message) {
            ++malformed_;
            drop(conn, "malformed message: " + parsed->error, now_ms);
            return;
        }
        handle(conn, s, std::move(*parsed->message), now_ms);
    }
}

void SubscriptionHub::handle(uint64_t conn, Session& s, DaemonMessage&& message, int64_t now_ms) {
    const int64_t now_s = now_ms / 1000;
    if (auto* hello = std::get_if<Hello>(&message)) {
        if (s.welcomed) return drop(conn, "second hello", now_ms);
        if (hello->protocol != kSubscriptionProtocol) {
            return drop(conn, "protocol " + std::to_string(hello->protocol) + " not spoken",
                        now_ms);
        }
        s.welcomed = true;
        store_.member_hello(s.member, hello->host, hello->version, json(hello->roles).dump(),
                            now_s);
        send(conn, Welcome{s.member, state_interval_});
        publish_({{"type", "member_connected"},
                  {"member", s.member},
                  {"host", hello->host},
                  {"version", hello->version},
                  {"roles", hello->roles}});
        return;
    }
    if (!s.welcomed) return drop(conn, "first message is not hello", now_ms);
    if (auto* state = std::get_if<State>(&message)) {
        store_.member_state(s.member, state->seq, state->data.dump(), now_s);
        publish_({{"type", "state"},
                  {"member", s.member},
                  {"seq", state->seq},
                  {"data", std::move(state->data)}});
    } else if (auto* event = std::get_if<Event>(&message)) {
        publish_({{"type", "event"},
                  {"member", s.member},
                  {"kind", event->kind},
                  {"text", event->text}});
    } else if (auto* result = std::get_if<Result>(&message)) {
        const auto p = s.pending.find(result->id);
        if (p == s.pending.end()) return;  // late (timed out already): dropped
        RelayDone done = std::move(p->second.done);
        s.pending.erase(p);
        done(std::move(result->response), now_ms);
    } else if (auto* pong = std::get_if<Pong>(&message)) {
        if (s.awaiting_pong && s.awaiting_pong->first == pong->id) s.awaiting_pong.reset();
    }
}

void SubscriptionHub::send(uint64_t conn, const BrokerMessage& message) {
    io_.send(conn, encode_message(message));
}

void SubscriptionHub::drop(uint64_t conn, const std::string& why, int64_t now_ms) {
    auto it = sessions_.find(conn);
    if (it == sessions_.end()) return;
    Session s = std::move(it->second);
    sessions_.erase(it);
    const auto m = by_member_.find(s.member);
    if (m != by_member_.end() && m->second == conn) by_member_.erase(m);
    for (auto& [id, pending] : s.pending) pending.done(std::nullopt, now_ms);
    if (s.welcomed) {
        publish_({{"type", "member_disconnected"}, {"member", s.member}, {"reason", why}});
    }
    io_.close(conn);
}

void SubscriptionHub::deleted(const std::string& member) {
    publish_({{"type", "member_deleted"}, {"member", member}});
}

void SubscriptionHub::closed(uint64_t conn, int64_t now_ms) {
    drop(conn, "connection closed", now_ms);
}

void SubscriptionHub::tick(int64_t now_ms) {
    std::vector<std::pair<uint64_t, std::string>> to_drop;
    for (auto& [conn, s] : sessions_) {
        if (!s.welcomed && now_ms - s.opened_ms >= kHelloTimeoutMs) {
            to_drop.emplace_back(conn, "no hello within 10 s");
            continue;
        }
        if (s.awaiting_pong && now_ms >= s.awaiting_pong->second) {
            to_drop.emplace_back(conn, "no pong within 30 s");
            continue;
        }
        for (auto p = s.pending.begin(); p != s.pending.end();) {
            if (now_ms >= p->second.deadline_ms) {
                RelayDone done = std::move(p->second.done);
                p = s.pending.erase(p);
                done(std::nullopt, now_ms);
            } else {
                ++p;
            }
        }
        if (s.welcomed && now_ms >= s.next_ping_ms && !s.awaiting_pong) {
            const uint64_t id = s.next_id++;
            s.awaiting_pong = std::make_pair(id, now_ms + kPongTimeoutMs);
            s.next_ping_ms = now_ms + kPingIntervalMs;
            send(conn, Ping{id});
        }
    }
    for (const auto& [conn, why] : to_drop) drop(conn, why, now_ms);
    if (now_ms >= next_flush_ms_) {
        next_flush_ms_ = now_ms + kStateFlushIntervalMs;
        store_.flush_member_states();
    }
}

bool SubscriptionHub::connected(const std::string& member) const {
    const auto m = by_member_.find(member);
    if (m == by_member_.end()) return false;
    const auto s = sessions_.find(m->second);
    return s != sessions_.end() && s->second.welcomed;
}

bool SubscriptionHub::relay(const std::string& member, const json& request,
                            const std::string& actor, RelayDone done, int64_t now_ms) {
    const auto m = by_member_.find(member);
    if (m == by_member_.end()) return false;
    const auto it = sessions_.find(m->second);
    if (it == sessions_.end() || !it->second.welcomed) return false;
    Session& s = it->second;
    const uint64_t id = s.next_id++;
    s.pending.emplace(id, Pending{std::move(done), now_ms + kRelayTimeoutMs});
    send(m->second, Command{id, actor, request});
    return true;
}

void SubscriptionHub::disconnect(const std::string& member, int64_t now_ms) {
    const auto m = by_member_.find(member);
    if (m != by_member_.end()) drop(m->second, "membership deleted", now_ms);
}

}  // namespace nanotime::broker
