// server_workers.hpp - extra NTP server threads (server.workers > 1).
//
// The main loop keeps serving on its own sockets; each extra worker is one
// thread with its own event loop (its own io_uring ring, or its own poll
// loop), its own NtpServer (rate-limit table: server.rate_limit.memory split
// evenly) and its own SO_REUSEPORT socket per listen address, so the kernel
// spreads clients over the workers by a hash of the 4-tuple and nothing is
// shared on the packet path.
//
// Shared, and only off the packet path:
//   system state  the main thread publishes it after each core update; a
//                 worker compares a generation counter (one relaxed atomic
//                 load per datagram) and copies the state under the mutex
//                 only when it changed;
//   counters      a worker publishes its ServerCounters under a mutex at most
//                 once a second while it is serving (an idle worker never
//                 wakes up for this), and with them a copy of its rate-limit
//                 table's most recent clients (ctl::kMaxClientRows at most:
//                 nanotimectl clients);
//   client reset  `clients -r` sets a worker's flag and zeroes its published
//                 copy under the mutex; the worker zeroes its table's
//                 counters at its next datagram or publication (one relaxed
//                 load per datagram while no reset is pending);
//   shutdown      each worker watches one end of a socketpair as a stream;
//                 the destructor closes the other end, the worker sees EOF,
//                 stops its loop, and the thread is joined.
//
// Life cycle: the constructor (privileged, before seccomp) makes the loops,
// opens the sockets and the socketpairs; start() (after privilege drop and
// seccomp) starts the threads, which inherit the dropped credentials and the
// filter. The clock is only read (ClockBackend::now() is clock_gettime).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "algorithm/system_state.hpp"
#include "io/event_loop.hpp"
#include "metrics/histogram.hpp"
#include "nanotimed/served_clients.hpp"
#include "nanotimed/server_nts.hpp"
#include "nanotimed/server_reply.hpp"
#include "server/ntp_server.hpp"

namespace nanotime::daemon {

class ServerWorkers {
  public:
    // Receive time of a datagram and the current time, on the daemon's clock.
    using RxTimeFn = std::function<ntp::NtpInstant(const io::ReceivedDatagram&)>;
    using NowFn = std::function<ntp::NtpInstant()>;
    // Makes one NtpServer per worker.
    using ServerFactory = std::function<std::unique_ptr<ntp::NtpServer>()>;

    // @count extra workers, each bound to every address of @binds (actual
    // ports, with SO_REUSEPORT set on the main loop's sockets too). With
    // @nts_keys and @random each worker answers NTS requests too (ServerNts).
    ServerWorkers(unsigned count, const io::LoopOptions& loop_options,
                  const std::vector<io::UdpOptions>& binds, const ServerFactory& make_server,
                  RxTimeFn rx_time, NowFn now, const ntp::SystemState& initial,
                  SharedKeyStore* nts_keys = nullptr, ntp::RandomSource* random = nullptr,
                  TxTimeFn tx_time = {});
    ~ServerWorkers();  // stops and joins the threads
    ServerWorkers(const ServerWorkers&) = delete;
    ServerWorkers& operator=(const ServerWorkers&) = delete;

    void start();
    // Main thread: new system state for the replies.
    void publish(const ntp::SystemState& state);
    // Adds the workers' last published counters to @total.
    void add_counters(ntp::ServerCounters& total) const;
    void add_nts_counters(nts::NtsServerCounters& total) const;
    // Each worker's rate-limit table as last published (nanotimectl clients).
    void add_client_tables(std::vector<ClientTable>& tables) const;
    // Main thread: zero every worker's per-client counters (clients -r).
    void reset_client_counters();
    // Datagrams the workers' loops dropped as larger than their receive
    // buffers (MSG_TRUNC), as last published.
    uint64_t datagrams_truncated() const;
    // Adds the workers' request latency histograms (receive → transmit) to @total.
    void add_latency(metrics::HistogramData& total) const;
    unsigned count() const { return static_cast<unsigned>(workers_.size()); }

  private:
    struct Worker {
        std::unique_ptr<io::EventLoop> loop;
        std::unique_ptr<ntp::NtpServer> server;
        std::unique_ptr<ServerNts> nts;  // NTS on
        std::vector<uint64_t> sockets;
        int wake_fd = -1;  // the main thread's end of the socketpair
        std::thread thread;
        ntp::SystemState state;  // the worker's copy
        uint64_t state_generation = 0;
        bool publish_armed = false;
        mutable std::mutex counters_mutex;
        ntp::ServerCounters published;
        nts::NtsServerCounters nts_published;
        uint64_t truncated_published = 0;          // the loop's LoopStats::datagrams_truncated
        ClientTable clients_published;             // its rate-limit table's clients
        std::atomic<bool> reset_requested{false};  // clients -r: zero the table's counters
        metrics::AtomicHistogram latency{metrics::latency_buckets()};  // written by its thread
        PendingTxStamps tx_stamps;  // its interleaved replies (with tx_time_)
    };

    void on_datagram(Worker& w, const io::ReceivedDatagram& d);
    void publish_counters(Worker& w);
    // On the worker's thread: a pending clients -r is carried out.
    static void take_client_reset(Worker& w);

    RxTimeFn rx_time_;
    NowFn now_;
    TxTimeFn tx_time_;  // empty: the workers ask for no kernel TX stamps
    std::mutex state_mutex_;
    ntp::SystemState state_;
    std::atomic<uint64_t> generation_{1};
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace nanotime::daemon
