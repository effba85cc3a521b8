// stream_service.hpp - what every TCP/TLS role of nanotimed (the NTS-KE
// server, the metrics exporter) shares: listeners on a thread and event loop
// of their own, a TLS context from PEM files that a reload can replace, and
// the stop. The role supplies its connection handlers and keeps its own
// per-connection state; this object owns the loop, the listeners, the
// thread and the wake-up pair between the main thread and that loop.
//
// Why a thread of its own: a TLS handshake holds a loop for 0.1-0.2 ms, and
// a flood of them on the NTP loop multiplies NTP reply latency
// (tests/bench/README.md, the stream seam).
//
// Life cycle: the constructor (privileged, before seccomp) opens the
// listeners and makes the loop; start() (after privilege drop and seccomp)
// runs the thread; the destructor stops the loop and joins the thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "io/event_loop.hpp"
#include "io/stream_limits.hpp"
#include "io/stream_server.hpp"
#include "io/tls_session.hpp"
#include "net/socket_address.hpp"

namespace nanotime::daemon {

// A server TLS context from a PEM chain (leaf first) and key, offering
// @alpn. Throws std::runtime_error naming the configuration @section
// ("nts_ke", "metrics") and the file that failed. @client_ca (a PEM file):
// client certificates are asked for (not required) and checked against it.
std::shared_ptr<io::TlsContext> load_server_tls(const std::string& section,
                                                const std::string& certificate,
                                                const std::string& private_key,
                                                const std::vector<std::string>& alpn,
                                                const std::string& client_ca = {});

class StreamService {
  public:
    // Called on the service's thread; @server is the listener the
    // connection came through.
    struct Handlers {
        std::function<void(io::StreamServer& server, uint64_t conn)> on_open;
        std::function<void(uint64_t conn, std::span<const uint8_t> data)> on_data;
        std::function<void(uint64_t conn)> on_close;
    };

    // @section names the service in messages. @tls may be null (plain TCP).
    // Throws std::system_error naming the address that could not be opened.
    StreamService(std::string section, const std::vector<ntp::SocketAddress>& listen,
                  const io::LoopOptions& loop_options, const io::ListenerLimits& limits,
                  const std::shared_ptr<io::TlsContext>& tls, Handlers handlers);
    ~StreamService();
    StreamService(const StreamService&) = delete;
    StreamService& operator=(const StreamService&) = delete;

    // After the privilege drop and seccomp: the loop runs on its thread.
    void start();
    // Main thread: new connections use @tls from now on (the listeners take
    // it on the service's thread). Nothing on success, else why.
    std::optional<std::string> replace_tls(std::shared_ptr<io::TlsContext> tls);

    // The service's thread only (and the constructor's caller before start()).
    io::EventLoop& loop() { return *loop_; }
    const std::vector<std::unique_ptr<io::StreamServer>>& servers() const { return servers_; }

  private:
    void adopt_pending_tls();

    std::string section_;
    Handlers handlers_;
    std::unique_ptr<io::EventLoop> loop_;
    std::vector<std::unique_ptr<io::StreamServer>> servers_;
    std::thread thread_;
    int wake_fd_ = -1;  // our end of the socketpair the service's loop watches
    std::mutex mutex_;  // guards pending_tls_
    std::shared_ptr<io::TlsContext> pending_tls_;
};

}  // namespace nanotime::daemon
