// stream_server.hpp - a TCP listener on the event loop with optional TLS 1.3
// and the listener's limits: the seam the daemon's stream roles (NTS-KE,
// the broker) sit on. The application sees plaintext per connection and
// never a socket or a TLS record.
//
// Per connection: accept → admission (ConnectionGate: count, per-address
// rate, bytes in flight; refused connections are closed at once) → TLS
// handshake (TlsSession over the loop's bytes) → on_open → on_data with
// plaintext, send() back → close. Deadlines: request_timeout from accept to
// request_done() (handshake included: a slowloris client is cut there),
// then idle_timeout between received bytes. Back-pressure: the loop stops
// reading a connection with more than max_queued_per_connection bytes
// queued (EventLoop::set_stream_output_cap), and every connection while
// the listener holds more than max_bytes_in_flight; reading resumes as the
// queues drain. Deadlines are checked by one sweep timer per server
// (period request_timeout/10, between 10 ms and 1 s), not a timer per
// connection: a flood of connections adds no timers.
//
// Memory per connection: the loop's Conn (4 KiB receive buffer), the TLS
// session (OpenSSL's SSL, its record buffers only while they hold data, two
// 1 KiB BIO buffers, and the start of a record not yet whole: never
// OpenSSL's 17 KiB read buffer for it) and the queued output, at most
// max_queued_per_connection plus one read.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/event_loop.hpp"
#include "io/stream_limits.hpp"
#include "io/tls_session.hpp"

namespace nanotime::io {

struct StreamServerStats {
    uint64_t accepted = 0;  // admitted
    uint64_t refused_connections = 0;
    uint64_t refused_rate = 0;
    uint64_t refused_bytes = 0;
    uint64_t timed_out = 0;   // request or idle deadline passed
    uint64_t tls_failed = 0;  // handshake or record errors
};

class StreamServer {
  public:
    struct Handlers {
        // The connection is ready for data (TLS: handshake done).
        std::function<void(uint64_t conn, const ntp::SocketAddress& peer)> on_open;
        std::function<void(uint64_t conn, std::span<const uint8_t> plaintext)> on_data;
        // All output handed to the kernel (optional).
        std::function<void(uint64_t conn)> on_drained;
        // Closed, whoever closed it; only for connections that were opened.
        std::function<void(uint64_t conn)> on_close;
    };

    // Takes @listen_fd (bound, listening: open_tcp_listener). @tls null: plain TCP.
    StreamServer(EventLoop& loop, int listen_fd, const ListenerLimits& limits,
                 std::shared_ptr<TlsContext> tls, Handlers handlers);
    // Closes the listener and every connection at once (no callbacks).
    ~StreamServer();
    StreamServer(const StreamServer&) = delete;
    StreamServer& operator=(const StreamServer&) = delete;

    // Connections accepted from now on use @tls (a re-read certificate);
    // open ones keep the context they started with. Ignored on a plain-TCP
    // server (@tls null at construction).
    void set_tls_context(std::shared_ptr<TlsContext> tls);

    void send(uint64_t conn, std::span<const uint8_t> plaintext);
    // Sends what is queued (and TLS close_notify), then closes.
    void close(uint64_t conn);
    // The first request is complete: the request deadline gives way to the idle one.
    void request_done(uint64_t conn);

    std::string alpn(uint64_t conn) const;
    // The client certificate of a TLS connection (TlsServerConfig::client_ca_pem).
    std::optional<PeerCertificate> peer_certificate(uint64_t conn) const;
    // The peer's address; none for an unknown connection.
    std::optional<ntp::SocketAddress> peer_address(uint64_t conn) const;
    std::optional<std::vector<uint8_t>> export_keying_material(
        uint64_t conn, std::string_view label, std::optional<std::span<const uint8_t>> context,
        size_t length) const;

    size_t open_connections() const;
    size_t bytes_in_flight() const;
    const StreamServerStats& stats() const;

    struct Core;  // the state the loop's callbacks reach (weakly: see stream_server.cpp)

  private:
    std::shared_ptr<Core> core_;
};

}  // namespace nanotime::io
