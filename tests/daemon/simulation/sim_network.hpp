// sim_network.hpp - a deterministic discrete-event simulation of ClientCore
// against simulated NTP servers (which run the real NtpServer core).
//
// True time is a double in seconds from the start. The client's clock is a
// closed loop: it starts clock_offset ahead, its oscillator runs
// frequency_error fast with a random-walk wander, and every DisciplineClock
// and SetClockFrequency the core returns is carried out on it (frequency
// set, step made, slew ended when its time is up), as the daemon does with
// the kernel. Each DisciplineClock reports the offset the core believes in;
// the simulation knows the exact one: server time - client time.
// Each path has fixed one-way delays (their difference is asymmetry), an
// exponentially distributed queueing delay, and a loss probability. A server
// can disappear at a given time. All randomness comes from seeded generators.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <vector>

#include "server/ntp_server.hpp"
#include "source/client_core.hpp"
#include "util/random.hpp"

namespace nanotime::ntp::sim {

struct PathModel {
    double out_delay = 0.010;    // s, client -> server
    double back_delay = 0.010;   // s, server -> client
    double jitter_mean = 0.001;  // s, mean of the exponential queueing delay, each way
    double loss = 0.0;           // probability that a datagram is lost, each way
};

struct ServerModel {
    IpAddress address;
    double clock_error = 0.0;  // s, server clock minus true time
    PathModel path;
    double dies_at = std::numeric_limits<double>::infinity();  // s of true time
    uint8_t stratum = 1;
};

struct SimConfig {
    uint64_t seed = 1;
    // True time at t = 0, Unix seconds (default 2026-11-18).
    int64_t start_unix_seconds = 1'795'000'000;
    double clock_offset = 0.025;     // s, client clock minus true time at t = 0
    double frequency_error = 0.0;    // s/s, of the oscillator at t = 0
    double wander = 0.0;             // (s/s)/sqrt(s): random walk of the oscillator's frequency
    ControllerConfig controller;     // the discipline's settings
    double initial_frequency = 0.0;  // fraction, the clock's frequency correction at start
    std::vector<ServerModel> servers;
    bool use_pool = false;  // one pool over all servers instead of `server` entries
    PoolConfig pool;        // when use_pool
    SourceConfig source;    // template for `server` entries
};

struct UpdateRecord {
    double time = 0.0;      // s, true time
    double offset = 0.0;    // s, reported by the client core
    double expected = 0.0;  // s, exact offset of the good servers
    SourceId system_peer = 0;
    bool step = false;
};

// The client clock once a second of true time.
struct ClockSample {
    double time = 0.0;             // s, true time
    double error = 0.0;            // s, client clock minus true time
    double frequency_error = 0.0;  // s/s, oscillator plus correction
};

class Simulation {
  public:
    explicit Simulation(SimConfig config);

    void run_until(double time);

    double now() const { return now_; }
    const std::vector<UpdateRecord>& updates() const { return updates_; }
    ClientCore& client() { return client_; }
    // The server model behind a client source, or nullptr.
    const ServerModel* server_of(SourceId id) const;
    // RMS of (reported - expected) over updates at or after @from (s).
    double rms_error(double from) const;
    double max_abs_error(double from) const;
    // The client clock's true error (client minus true time, s) now.
    double clock_error() const { return phase_; }
    // RMS and max |clock error| (s) over the once-a-second samples at or
    // after @from (s), and the RMS frequency error (s/s).
    double rms_clock_error(double from) const;
    double max_clock_error(double from) const;
    double rms_frequency_error(double from) const;
    const std::vector<ClockSample>& clock_samples() const { return clock_samples_; }
    // Requests sent by the client, from @from on (s).
    size_t requests_since(double from) const;
    // The server at @address stops answering at true time @at (s).
    void set_server_dies_at(const IpAddress& address, double at);
    const ServerCounters& server_counters(size_t index) const {
        return servers_[index].core->counters();
    }

  private:
    struct SimServer {
        ServerModel model;
        std::unique_ptr<NtpServer> core;
    };

    NtpInstant local_clock(double true_time) const;
    // Moves the client clock's state to true time @t.
    void advance_clock(double t);
    void sample_clock();
    void schedule(double at, std::function<void()> event);
    void apply(ClientActions actions);
    void deliver_request(SourceId source, SendRequest request);
    SimServer* server_at(const SocketAddress& address);
    double one_way(const PathModel& path, double base);

    SimConfig config_;
    SplitMix64 network_random_;
    SplitMix64 client_random_;
    SplitMix64 server_random_;
    ClientCore client_;
    std::vector<SimServer> servers_;
    std::multimap<double, std::function<void()>> events_;
    std::map<SourceId, uint64_t> timer_generation_;
    std::map<PoolId, uint64_t> pool_timer_generation_;
    NtpInstant start_;  // true time at t = 0
    std::vector<UpdateRecord> updates_;
    double now_ = 0.0;
    // The client clock: phase_ = client minus true time (s) at clock_time_,
    // running at oscillator_ + applied_ (s/s).
    SplitMix64 wander_random_;
    double phase_ = 0.0;
    double clock_time_ = 0.0;
    double oscillator_ = 0.0;
    double applied_ = 0.0;
    uint64_t slew_generation_ = 0;
    std::vector<ClockSample> clock_samples_;
    std::vector<double> request_times_;
};

}  // namespace nanotime::ntp::sim
