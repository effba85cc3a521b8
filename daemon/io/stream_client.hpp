// stream_client.hpp - one outbound TCP connection on the event loop with
// optional TLS 1.3: what the daemon's NTS-KE client (and tests) use. The
// owner sees plaintext and the outcome; the TLS records and the socket stay
// here and in the loop.
//
// connect_stream() → TLS handshake (TlsSession) → on_open → on_data /
// send() → close(). Failure at any step (refused, handshake, timeout)
// ends in on_close with the reason. @timeout bounds connect + handshake.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/event_loop.hpp"
#include "io/tls_session.hpp"

namespace nanotime::io {

class StreamClient {
  public:
    struct Handlers {
        std::function<void()> on_open;  // connected (TLS: handshake done)
        std::function<void(std::span<const uint8_t> plaintext)> on_data;
        // Closed; @error empty for an orderly close, else the reason.
        std::function<void(const std::string& error)> on_close;
    };

    // @tls null: plain TCP. @max_queued: the output cap (back-pressure) of the stream.
    StreamClient(EventLoop& loop, const ntp::SocketAddress& to, std::shared_ptr<TlsContext> tls,
                 Handlers handlers, std::chrono::milliseconds timeout,
                 size_t max_queued = size_t{64} * 1024);
    // Closes at once (no callbacks).
    ~StreamClient();
    StreamClient(const StreamClient&) = delete;
    StreamClient& operator=(const StreamClient&) = delete;

    // Queued until the connection is open.
    void send(std::span<const uint8_t> plaintext);
    void close();
    bool is_open() const;
    // Bytes sent and not yet handed to the kernel: the loop's queue, the
    // TLS session's held plaintext and the plaintext waiting for the
    // connection. What an owner bounds when the peer may stop reading.
    size_t queued_bytes() const;
    std::string alpn() const;
    std::optional<std::vector<uint8_t>> export_keying_material(
        std::string_view label, std::optional<std::span<const uint8_t>> context,
        size_t length) const;

    struct Core;

  private:
    std::shared_ptr<Core> core_;
};

}  // namespace nanotime::io
