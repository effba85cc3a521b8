// stream_client.cpp - one outbound TCP(+TLS) connection (see
// stream_client.hpp). Callbacks reach the Core through a weak_ptr, so the
// client may be destroyed from inside its own callbacks.
#include "io/stream_client.hpp"

#include <cstring>

namespace nanotime::io {

struct StreamClient::Core : std::enable_shared_from_this<Core> {
    Core(EventLoop& l, std::shared_ptr<TlsContext> t, Handlers h)
        : loop(l), tls_context(std::move(t)), handlers(std::move(h)) {}

    EventLoop& loop;
    std::shared_ptr<TlsContext> tls_context;
    Handlers handlers;
    std::unique_ptr<TlsSession> tls;
    uint64_t conn = 0;
    uint64_t timer = 0;
    bool opened = false;
    bool closed = false;
    std::string error;
    std::vector<uint8_t> pending;  // plain TCP: written before connected
    std::vector<uint8_t> scratch;

    void start(const ntp::SocketAddress& to, std::chrono::milliseconds timeout, size_t max_queued) {
        std::weak_ptr<Core> weak = weak_from_this();
        conn = loop.connect_stream(
            to,
            [weak](uint64_t, int err) {
                if (auto self = weak.lock()) self->on_connected(err);
            },
            [weak](uint64_t, std::span<const uint8_t> d) {
                if (auto self = weak.lock()) self->on_bytes(d);
            },
            [weak](uint64_t) {
                if (auto self = weak.lock()) self->on_closed();
            });
        loop.set_stream_output_cap(conn, max_queued);
        timer = loop.add_timer_after(timeout, [weak] {
            if (auto self = weak.lock()) {
                self->timer = 0;
                if (!self->opened) self->fail("connect/handshake timed out", false);
            }
        });
    }

    void on_connected(int err) {
        if (err != 0) {
            error = std::string("connect: ") + std::strerror(err);
            return;  // the loop closes: on_closed reports
        }
        if (tls_context) {
            tls = std::make_unique<TlsSession>(tls_context);
            if (!pending.empty()) tls->write(pending);
            pending.clear();
            flush();
        } else {
            open();
            if (!pending.empty()) loop.write_stream(conn, pending);
            pending.clear();
        }
    }

    void open() {
        opened = true;
        if (timer != 0) loop.cancel_timer(timer);
        timer = 0;
        if (handlers.on_open) handlers.on_open();
    }

    void on_bytes(std::span<const uint8_t> data) {
        if (!tls) {
            if (handlers.on_data) handlers.on_data(data);
            return;
        }
        const bool ok = tls->feed(data);
        flush();
        if (!ok) {
            fail(tls->error(), true);
            return;
        }
        std::weak_ptr<Core> weak = weak_from_this();
        if (tls->handshake_done() && !opened) {
            open();
            if (weak.expired() || closed) return;
        }
        std::vector<uint8_t> plaintext;
        tls->take_plaintext(plaintext);
        if (!plaintext.empty() && handlers.on_data) handlers.on_data(plaintext);
        if (!weak.expired() && !closed && tls->peer_closed()) close();
    }

    void flush() {
        if (!tls || !tls->has_ciphertext()) return;
        scratch.clear();
        tls->take_ciphertext(scratch);
        loop.write_stream(conn, scratch);
    }

    void send(std::span<const uint8_t> plaintext) {
        if (closed) return;
        if (tls) {
            tls->write(plaintext);
            flush();
        } else if (opened) {
            loop.write_stream(conn, plaintext);
        } else {
            pending.insert(pending.end(), plaintext.begin(), plaintext.end());
        }
    }

    void close() {
        if (closed) return;
        if (tls) {
            tls->close();
            flush();
        }
        loop.close_stream(conn);
    }

    // @flush: send what is queued first (a TLS alert); a timeout does not
    // wait for a peer that may not be reading.
    void fail(const std::string& why, bool flush) {
        if (error.empty()) error = why;
        loop.close_stream(conn, flush);
    }

    void on_closed() {
        closed = true;
        if (timer != 0) loop.cancel_timer(timer);
        timer = 0;
        if (handlers.on_close) handlers.on_close(error);
    }
};

StreamClient::StreamClient(EventLoop& loop, const ntp::SocketAddress& to,
                           std::shared_ptr<TlsContext> tls, Handlers handlers,
                           std::chrono::milliseconds timeout, size_t max_queued)
    : core_(std::make_shared<Core>(loop, std::move(tls), std::move(handlers))) {
    core_->start(to, timeout, max_queued);
}

StreamClient::~StreamClient() {
    if (!core_->closed) core_->loop.close_stream(core_->conn, false);
    if (core_->timer != 0) core_->loop.cancel_timer(core_->timer);
}

void StreamClient::send(std::span<const uint8_t> plaintext) {
    core_->send(plaintext);
}

void StreamClient::close() {
    core_->close();
}

bool StreamClient::is_open() const {
    return core_->opened && !core_->closed;
}

size_t StreamClient::queued_bytes() const {
    if (core_->closed) return 0;
    return core_->loop.stream_queued_bytes(core_->conn) + core_->pending.size() +
           (core_->tls ? core_->tls->held_bytes() : 0);
}

std::string StreamClient::alpn() const {
    return core_->tls ? core_->tls->alpn() : std::string();
}

std::optional<std::vector<uint8_t>> StreamClient::export_keying_material(
    std::string_view label, std::optional<std::span<const uint8_t>> context, size_t length) const {
    if (!core_->tls) return std::nullopt;
    return core_->tls->export_keying_material(label, context, length);
}

}  // namespace nanotime::io
