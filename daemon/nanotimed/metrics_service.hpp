// metrics_service.hpp - nanotimed's Prometheus exporter: GET /metrics on
// the [metrics] listeners (plain HTTP/1.1, or HTTPS with TLS 1.3 when a
// certificate is configured), on a thread and event loop of its own like
// the NTS-KE server, so that a scrape (rendering a few hundred lines, a
// TLS handshake) never delays an NTP reply.
//
// Data: the main loop builds a metrics::MetricsData about once a second and
// publish()es it; the exporter thread reads the newest one with an atomic
// shared_ptr load. Nothing on the NTP path waits for the exporter.
//
// Connections: io::StreamServer (count, per-address rate, bytes in flight,
// TLS) and one http::ServerConnection each (limits, keep-alive, pipelining,
// 400/408/413/431). Deadlines: the StreamServer cuts a connection whose TLS
// handshake and first request take longer than timeout + 1 s; after that
// the HTTP object's own deadlines (timeout per request, 60 s idle between
// requests) are checked by one sweep timer.
//
// Life cycle as NtsKeService: the constructor (privileged, before seccomp)
// reads the PEM files and opens the listeners; start() (after privilege
// drop and seccomp) runs the thread; the destructor stops and joins it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "metrics/metrics_data.hpp"

namespace nanotime::daemon {

class MetricsService {
  public:
    // Throws std::runtime_error naming the file or address that failed.
    MetricsService(const config::MetricsConfig& config, const io::LoopOptions& loop_options,
                   io::RateLimitedLog& log);
    ~MetricsService();
    MetricsService(const MetricsService&) = delete;
    MetricsService& operator=(const MetricsService&) = delete;

    void start();
    // Main thread: the data later scrapes see.
    void publish(std::shared_ptr<const metrics::MetricsData> data);
    // Main thread (SIGHUP): re-reads the PEM files of a TLS exporter.
    // Nothing on success or without TLS, else why (the old pair stays).
    std::optional<std::string> reload_certificate();

    struct Worker;  // the exporter thread's state (metrics_service.cpp)

  private:
    config::MetricsConfig config_;
    std::unique_ptr<Worker> worker_;
};

}  // namespace nanotime::daemon
