// server_workers.cpp - the extra NTP server threads (see server_workers.hpp).
#include "nanotimed/server_workers.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "nanotimed/server_reply.hpp"

namespace nanotime::daemon {

using namespace std::chrono_literals;

ServerWorkers::ServerWorkers(unsigned count, const io::LoopOptions& loop_options,
                             const std::vector<io::UdpOptions>& binds,
                             const ServerFactory& make_server, RxTimeFn rx_time, NowFn now,
                             const ntp::SystemState& initial, SharedKeyStore* nts_keys,
                             ntp::RandomSource* random, TxTimeFn tx_time)
    : rx_time_(std::move(rx_time)),
      now_(std::move(now)),
      tx_time_(std::move(tx_time)),
      state_(initial) {
    try {
        for (unsigned i = 0; i < count; ++i) {
            auto w = std::make_unique<Worker>();
            Worker& ref = *w;
            workers_.push_back(std::move(w));
            // Made here, run on the worker's thread (start()).
            io::LoopOptions options = loop_options;
            options.runs_on_creating_thread = false;
            ref.loop = io::make_event_loop(options);
            ref.server = make_server();
            if (nts_keys != nullptr && random != nullptr) {
                ref.nts = std::make_unique<ServerNts>(*nts_keys, *random);
                ref.nts->attach(*ref.server);
            }
            ref.state = initial;
            ref.state_generation = generation_.load();
            for (io::UdpOptions o : binds) {
                o.reuse_port = true;
                o.tx_timestamps_on_request = o.tx_timestamps_on_request && tx_time_;
                ref.sockets.push_back(ref.loop->open_udp(
                    o, [this, &ref](const io::ReceivedDatagram& d) { on_datagram(ref, d); },
                    [this, &ref](const io::TxTimestamp& t) {
                        ref.tx_stamps.stamped(t, *ref.server, tx_time_);
                    }));
            }
            int pair[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
                throw std::system_error(errno, std::generic_category(), "socketpair");
            ref.wake_fd = pair[0];
            io::EventLoop* loop = ref.loop.get();
            auto stop = [loop](uint64_t) { loop->stop(); };
            ref.loop->add_stream(
                pair[1], [loop](uint64_t, std::span<const uint8_t>) { loop->stop(); }, stop);
        }
    } catch (...) {
        for (auto& w : workers_) {
            if (w->wake_fd >= 0) close(w->wake_fd);
        }
        throw;
    }
}

ServerWorkers::~ServerWorkers() {
    for (auto& w : workers_) {
        if (w->wake_fd >= 0) {
            close(w->wake_fd);  // EOF on the worker's end: its loop stops
            w->wake_fd = -1;
        }
    }
    for (const auto& w : workers_) {
        if (w->thread.joinable()) w->thread.join();
    }
}

void ServerWorkers::start() {
    for (auto& w : workers_) {
        Worker* p = w.get();
        p->thread = std::thread([p] { p->loop->run(); });
    }
}

void ServerWorkers::publish(const ntp::SystemState& state) {
    {
        std::lock_guard<std::mutex> lock(state_mutex_);
        state_ = state;
    }
    generation_.fetch_add(1, std::memory_order_release);
}

void ServerWorkers::add_counters(ntp::ServerCounters& total) const {
    for (const auto& w : workers_) {
        std::lock_guard<std::mutex> lock(w->counters_mutex);
        const ntp::ServerCounters& c = w->published;
        total.received += c.received;
        total.replied += c.replied;
        total.rate_limited_kod += c.rate_limited_kod;
        total.rate_limited_dropped += c.rate_limited_dropped;
        total.denied += c.denied;
        total.malformed += c.malformed;
        total.wrong_mode += c.wrong_mode;
        total.authenticated += c.authenticated;
        total.nts_nak += c.nts_nak;
        total.nts_dropped += c.nts_dropped;
        total.extension_fields_ignored += c.extension_fields_ignored;
        total.interleaved += c.interleaved;
        total.tx_stamps += c.tx_stamps;
    }
}

void ServerWorkers::add_nts_counters(nts::NtsServerCounters& total) const {
    for (const auto& w : workers_) {
        std::lock_guard<std::mutex> lock(w->counters_mutex);
        daemon::add_counters(total, w->nts_published);
    }
}

uint64_t ServerWorkers::datagrams_truncated() const {
    uint64_t total = 0;
    for (const auto& w : workers_) {
        std::lock_guard<std::mutex> lock(w->counters_mutex);
        total += w->truncated_published;
    }
    return total;
}

void ServerWorkers::add_client_tables(std::vector<ClientTable>& tables) const {
    for (const auto& w : workers_) {
        std::lock_guard<std::mutex> lock(w->counters_mutex);
        tables.push_back(w->clients_published);
    }
}

void ServerWorkers::reset_client_counters() {
    for (auto& w : workers_) {
        std::lock_guard<std::mutex> lock(w->counters_mutex);
        w->reset_requested.store(true, std::memory_order_relaxed);
        // What the worker's table will say once it has taken the reset.
        zero_counters(w->clients_published);
    }
}

void ServerWorkers::take_client_reset(Worker& w) {
    if (w.reset_requested.load(std::memory_order_relaxed) &&
        w.reset_requested.exchange(false, std::memory_order_acq_rel)) {
        w.server->reset_client_counters();
    }
}

void ServerWorkers::on_datagram(Worker& w, const io::ReceivedDatagram& d) {
    take_client_reset(w);
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen != w.state_generation) {
        std::lock_guard<std::mutex> lock(state_mutex_);
        w.state = state_;
        w.state_generation = gen;
    }
    if (w.nts) w.nts->refresh();
    answer_request(*w.server, *w.loop, d, rx_time_(d), now_(), w.state, nullptr, &w.latency,
                   tx_time_ ? &w.tx_stamps : nullptr);
    if (!w.publish_armed) {
        w.publish_armed = true;
        w.loop->add_timer_after(1s, [this, &w] { publish_counters(w); });
    }
}

void ServerWorkers::add_latency(metrics::HistogramData& total) const {
    for (const auto& w : workers_) total.merge(w->latency.read());
}

void ServerWorkers::publish_counters(Worker& w) {
    w.publish_armed = false;
    // Gathered before taking the lock (the main thread reads under it);
    // a reset asked for meanwhile is taken under the lock, below.
    ClientTable table = client_table(*w.server);
    std::lock_guard<std::mutex> lock(w.counters_mutex);
    if (w.reset_requested.exchange(false, std::memory_order_acq_rel)) {
        w.server->reset_client_counters();
        zero_counters(table);
    }
    w.clients_published = std::move(table);
    w.published = w.server->counters();
    if (w.nts) w.nts_published = w.nts->counters();
    w.truncated_published = w.loop->stats().datagrams_truncated;
}

}  // namespace nanotime::daemon
