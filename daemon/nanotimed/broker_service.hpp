// broker_service.hpp - nanotimed's [broker] role: the HTTPS operator API
// under /v1 and the members' subscriptions (daemon/broker/README.md), on
// a StreamService thread and event loop of its own like the NTS-KE server
// and the metrics exporter, so that nothing the broker does (a TLS
// handshake, scrypt for a bearer token, an SQLite write) delays an NTP reply.
//
// The protocol logic is sans I/O in daemon/broker (BrokerApi, SubscriptionHub,
// BrokerStore); this class moves bytes: per connection an
// http::ServerConnection until a request upgrades it to a subscription
// (frames to the hub) or to a Server-Sent Events stream (the fleet's
// changes or new audit entries pushed as they happen).
//
// Limits: max_connections, the per-address connection rate, bytes in
// flight and the request/idle deadlines of io::StreamServer; 8 KiB of
// header and 64 KiB of body per request (431/413); a request must arrive
// whole within timeout (408, slowloris); an SSE stream whose client does
// not read is closed once more than kMaxStreamBacklog bytes wait for it.
//
// Life cycle as MetricsService: the constructor (privileged, before
// seccomp) reads the PEM files, opens the database and the listeners;
// start() runs the thread; the destructor stops and joins it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "metrics/metrics_data.hpp"

namespace nanotime::daemon {

class BrokerService {
  public:
    // Throws std::runtime_error naming the file, database or address that failed.
    BrokerService(const config::BrokerConfig& config, const io::LoopOptions& loop_options,
                  io::RateLimitedLog& log);
    ~BrokerService();
    BrokerService(const BrokerService&) = delete;
    BrokerService& operator=(const BrokerService&) = delete;

    void start();
    // Main thread: this daemon's metrics for the broker's /metrics.
    void publish(std::shared_ptr<const metrics::MetricsData> data);
    // Main thread (SIGHUP): re-reads the broker's certificate and key.
    // Nothing on success, else why (the old pair stays).
    std::optional<std::string> reload_certificate();

    struct Worker;  // the broker thread's state (broker_service.cpp)

  private:
    config::BrokerConfig config_;
    std::unique_ptr<Worker> worker_;
};

// nanotimed --broker-token NAME [--broker-role ROLE]: mints a bearer token
// in the configured broker database and prints it (the first admin token
// of a new broker). Returns the process exit status; messages on stderr.
int mint_broker_token(const config::BrokerConfig& config, const std::string& name,
                      const std::string& role, std::ostream& out, std::ostream& err);

}  // namespace nanotime::daemon
