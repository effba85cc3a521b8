// stream_server.cpp - the TCP(+TLS) listener with limits (see
// stream_server.hpp): admission, the TLS byte shuttle, deadlines and the
// byte budget. The loop's callbacks hold a weak_ptr to the Core, so a
// callback that runs after the server is gone does nothing.
#include "io/stream_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "io/sockaddr.hpp"

namespace nanotime::io {

struct StreamServer::Core : std::enable_shared_from_this<Core> {
    struct Session {
        ntp::SocketAddress peer;
        std::unique_ptr<TlsSession> tls;  // null: plain TCP
        MonoClock::time_point deadline;   // request deadline, then idle deadline
        bool request_done = false;
        bool opened = false;
        size_t charged = 0;  // bytes counted against the listener's budget
    };

    Core(EventLoop& l, const ListenerLimits& lim, std::shared_ptr<TlsContext> t, Handlers h)
        : loop(l),
          gate(lim),
          tls(std::move(t)),
          handlers(std::move(h)),
          sweep_period(std::clamp<MonoClock::duration>(
              lim.request_timeout / 10, std::chrono::milliseconds(10), std::chrono::seconds(1))) {}

    EventLoop& loop;
    ConnectionGate gate;
    std::shared_ptr<TlsContext> tls;
    Handlers handlers;
    StreamServerStats stats;
    uint64_t listener = 0;
    std::unordered_map<uint64_t, Session> sessions;
    std::set<uint64_t> budget_paused;  // paused because the listener is over its byte budget
    uint64_t sweep_timer = 0;
    MonoClock::duration sweep_period{};
    std::vector<uint8_t> scratch;  // ciphertext / plaintext on its way
    // The connection whose plaintext on_data is handling (0: none). What
    // the handler sends to it is encrypted at once but handed to the loop
    // when the handler returns (or closes): a response and the
    // close_notify behind it leave in one write, one TCP segment.
    uint64_t delivering = 0;

    void on_accept(int fd) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        // A peer that reset before the accept completed has no name any
        // more (ENOTCONN): it goes in as the unspecified address, all such
        // peers one client, and its first read ends it.
        const ntp::SocketAddress peer =
            (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0
                 ? from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len)
                 : std::nullopt)
                .value_or(ntp::SocketAddress::v6_any(0));
        const MonoClock::time_point now = MonoClock::now();
        const Admission a = gate.admit(peer, now);
        if (a != Admission::Admit) {
            ++(a == Admission::TooManyConnections    ? stats.refused_connections
               : a == Admission::AddressRateExceeded ? stats.refused_rate
                                                     : stats.refused_bytes);
            ::close(fd);
            return;
        }
        ++stats.accepted;
        std::weak_ptr<Core> weak = weak_from_this();
        const uint64_t id = loop.add_stream(
            fd,
            [weak](uint64_t c, std::span<const uint8_t> d) {
                if (auto self = weak.lock()) self->on_bytes(c, d);
            },
            [weak](uint64_t c) {
                if (auto self = weak.lock()) self->on_closed(c);
            },
            [weak](uint64_t c) {
                if (auto self = weak.lock()) self->on_drained(c);
            });
        loop.set_stream_output_cap(id, gate.limits().max_queued_per_connection);
        Session& s = sessions[id];
        s.peer = peer;
        s.deadline = now + gate.limits().request_timeout;
        if (tls) {
            s.tls = std::make_unique<TlsSession>(tls);
        } else {
            open(id, s);
        }
        arm_sweep();
    }

    void open(uint64_t id, Session& s) {
        s.opened = true;
        if (handlers.on_open) handlers.on_open(id, s.peer);
    }

    void on_bytes(uint64_t id, std::span<const uint8_t> data) {
        auto it = sessions.find(id);
        if (it == sessions.end()) return;
        Session& s = it->second;
        if (s.request_done) s.deadline = MonoClock::now() + gate.limits().idle_timeout;
        if (!s.tls) {
            if (handlers.on_data) handlers.on_data(id, data);
            return;
        }
        const bool ok = s.tls->feed(data);
        flush_tls(id, s);
        if (!ok) {
            ++stats.tls_failed;
            loop.close_stream(id);  // after the alert
            return;
        }
        if (s.tls->handshake_done() && !s.opened) {
            open(id, s);
            if (!sessions.contains(id)) return;  // on_open closed it
        }
        scratch.clear();
        s.tls->take_plaintext(scratch);
        if (!scratch.empty() && handlers.on_data) {
            const std::vector<uint8_t> plaintext = std::move(scratch);
            delivering = id;
            handlers.on_data(id, plaintext);
            delivering = 0;
        }
        auto live = sessions.find(id);
        if (live != sessions.end() && live->second.tls->has_ciphertext())
            flush_tls(id, live->second);
        if (live != sessions.end() && live->second.tls->peer_closed()) close(id);
    }

    // The TLS session's ciphertext to the loop, and the byte budget updated.
    void flush_tls(uint64_t id, Session& s) {
        if (s.tls->has_ciphertext()) {
            scratch.clear();
            s.tls->take_ciphertext(scratch);
            loop.write_stream(id, scratch);
        }
        account(id, s);
    }

    void account(uint64_t id, Session& s) {
        const size_t now_charged = loop.stream_queued_bytes(id) + (s.tls ? s.tls->held_bytes() : 0);
        gate.account(s.charged, now_charged);
        s.charged = now_charged;
        if (gate.over_byte_budget()) {
            if (budget_paused.insert(id).second) loop.pause_stream(id);
        } else if (!budget_paused.empty()) {
            for (uint64_t p : budget_paused) loop.resume_stream(p);
            budget_paused.clear();
        }
    }

    void on_drained(uint64_t id) {
        auto it = sessions.find(id);
        if (it == sessions.end()) return;
        account(id, it->second);
        if (it->second.opened && handlers.on_drained) handlers.on_drained(id);
    }

    void on_closed(uint64_t id) {
        auto it = sessions.find(id);
        if (it == sessions.end()) return;
        const bool opened = it->second.opened;
        gate.account(it->second.charged, 0);
        gate.release();
        budget_paused.erase(id);
        sessions.erase(it);
        if (opened && handlers.on_close) handlers.on_close(id);
    }

    void send(uint64_t id, std::span<const uint8_t> plaintext) {
        auto it = sessions.find(id);
        if (it == sessions.end()) return;
        Session& s = it->second;
        if (!s.tls) {
            loop.write_stream(id, plaintext);
            account(id, s);
            return;
        }
        s.tls->write(plaintext);
        if (id != delivering) flush_tls(id, s);
    }

    void close(uint64_t id) {
        auto it = sessions.find(id);
        if (it == sessions.end()) return;
        if (it->second.tls) {
            it->second.tls->close();
            flush_tls(id, it->second);
        }
        loop.close_stream(id);
    }

    void arm_sweep() {
        if (sweep_timer != 0 || sessions.empty()) return;
        std::weak_ptr<Core> weak = weak_from_this();
        sweep_timer = loop.add_timer_after(sweep_period, [weak] {
            if (auto self = weak.lock()) self->sweep();
        });
    }

    // Closes, without flushing, every connection past its deadline.
    void sweep() {
        sweep_timer = 0;
        const MonoClock::time_point now = MonoClock::now();
        std::vector<uint64_t> expired;
        for (const auto& [id, s] : sessions) {
            if (now >= s.deadline) expired.push_back(id);
        }
        for (uint64_t id : expired) {
            ++stats.timed_out;
            loop.close_stream(id, false);
        }
        arm_sweep();
    }
};

StreamServer::StreamServer(EventLoop& loop, int listen_fd, const ListenerLimits& limits,
                           std::shared_ptr<TlsContext> tls, Handlers handlers)
    : core_(std::make_shared<Core>(loop, limits, std::move(tls), std::move(handlers))) {
    std::weak_ptr<Core> weak = core_;
    core_->listener = loop.listen_stream(listen_fd, [weak](int fd) {
        if (auto self = weak.lock()) {
            self->on_accept(fd);
        } else {
            ::close(fd);
        }
    });
}

StreamServer::~StreamServer() {
    EventLoop& loop = core_->loop;
    loop.close_listener(core_->listener);
    for (const auto& [id, s] : core_->sessions) loop.close_stream(id, false);
    if (core_->sweep_timer != 0) loop.cancel_timer(core_->sweep_timer);
}

void StreamServer::set_tls_context(std::shared_ptr<TlsContext> tls) {
    if (core_->tls && tls) core_->tls = std::move(tls);
}

void StreamServer::send(uint64_t conn, std::span<const uint8_t> plaintext) {
    core_->send(conn, plaintext);
}

void StreamServer::close(uint64_t conn) {
    core_->close(conn);
}

void StreamServer::request_done(uint64_t conn) {
    auto it = core_->sessions.find(conn);
    if (it == core_->sessions.end() || it->second.request_done) return;
    it->second.request_done = true;
    it->second.deadline = MonoClock::now() + core_->gate.limits().idle_timeout;
}

std::string StreamServer::alpn(uint64_t conn) const {
    auto it = core_->sessions.find(conn);
    return it == core_->sessions.end() || !it->second.tls ? std::string() : it->second.tls->alpn();
}

std::optional<PeerCertificate> StreamServer::peer_certificate(uint64_t conn) const {
    auto it = core_->sessions.find(conn);
    if (it == core_->sessions.end() || !it->second.tls) return std::nullopt;
    return it->second.tls->peer_certificate();
}

std::optional<ntp::SocketAddress> StreamServer::peer_address(uint64_t conn) const {
    auto it = core_->sessions.find(conn);
    if (it == core_->sessions.end()) return std::nullopt;
    return it->second.peer;
}

std::optional<std::vector<uint8_t>> StreamServer::export_keying_material(
    uint64_t conn, std::string_view label, std::optional<std::span<const uint8_t>> context,
    size_t length) const {
    auto it = core_->sessions.find(conn);
    if (it == core_->sessions.end() || !it->second.tls) return std::nullopt;
    return it->second.tls->export_keying_material(label, context, length);
}

size_t StreamServer::open_connections() const {
    return core_->sessions.size();
}

size_t StreamServer::bytes_in_flight() const {
    return core_->gate.bytes_in_flight();
}

const StreamServerStats& StreamServer::stats() const {
    return core_->stats;
}

}  // namespace nanotime::io
