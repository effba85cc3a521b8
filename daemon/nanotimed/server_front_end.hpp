// server_front_end.hpp - nanotimed's NTP server: its sockets (port 123) and
// the extra worker threads (server.workers > 1), all answering through
// answer_request() (server_reply.hpp).
//
// It reads the system state it is handed (served_state, called per request
// on the main loop; publish() for the workers) and knows nothing of the
// client side that produces it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "algorithm/system_state.hpp"
#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "metrics/histogram.hpp"
#include "nanotimed/nts_key_manager.hpp"
#include "nanotimed/served_clients.hpp"
#include "nanotimed/server_nts.hpp"
#include "nanotimed/server_reply.hpp"
#include "nanotimed/server_workers.hpp"
#include "nanotimed/timescale.hpp"
#include "server/ntp_server.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

class ServerFrontEnd {
  public:
    using StateFn = std::function<ntp::SystemState()>;

    // Privileged, before seccomp: opens the listen sockets and the workers'
    // loops and sockets. Throws on failure. @nts_keys (may be null): every
    // server thread answers NTS requests with the keys published there.
    ServerFrontEnd(const ntp::ServerConfig& config, const config::IoConfig& io, io::EventLoop& loop,
                   const Timescale& timescale, io::RateLimitedLog& log, ntp::RandomSource& random,
                   StateFn served_state, SharedKeyStore* nts_keys = nullptr);
    ~ServerFrontEnd();

    // After privilege drop: the worker threads start.
    void start();
    // New system state for the workers (the main loop reads served_state).
    void publish(const ntp::SystemState& state);
    // Every thread's counters added up.
    ntp::ServerCounters counters() const;
    // The same for NTS (zero without NTS).
    nts::NtsServerCounters nts_counters() const;
    // Datagrams the worker threads dropped as larger than their receive
    // buffers (the main loop counts its own in its LoopStats).
    uint64_t worker_datagrams_truncated() const;
    // Every thread's rate-limit table of clients (nanotimectl clients): the
    // main loop's as it is now, the workers' as published (within 1 s).
    std::vector<ClientTable> client_tables() const;
    bool rate_limited() const { return server_->rate_limiter() != nullptr; }
    // clients -r: zero every thread's per-client counters.
    void reset_client_counters();
    // Request receive timestamp → reply transmit (s), every thread's.
    metrics::HistogramData latency() const;

  private:
    void on_datagram(const io::ReceivedDatagram& d);

    io::EventLoop& loop_;
    const Timescale& timescale_;
    io::RateLimitedLog& log_;
    StateFn served_state_;
    std::unique_ptr<ntp::NtpServer> server_;
    std::unique_ptr<ServerNts> nts_;  // NTS on
    std::vector<uint64_t> sockets_;
    std::unique_ptr<ServerWorkers> workers_;
    metrics::AtomicHistogram latency_{metrics::latency_buckets()};  // the main loop's replies
    PendingTxStamps tx_stamps_;  // the main loop's interleaved replies
    TxTimeFn tx_time_;
};

}  // namespace nanotime::daemon
