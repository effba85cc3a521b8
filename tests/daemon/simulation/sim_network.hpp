// sim_network.hpp - a deterministic discrete-event simulation of ClientCore
// against simulated NTP servers (which run the real NtpServer core).
//
// True time is a double in seconds from the start. The client's clock is a
// closed loop: its oscillator (sim_clock.hpp: frequency error, random-walk
// wander, temperature steps) drives one of the clock models (ideal, or
// libnanokernel as the nanoclock or as CLOCK_REALTIME), and every
// DisciplineClock and SetClockFrequency the core returns is carried out on
// it as the daemon does (frequency set, step made, slew ended when its time
// is up). Each DisciplineClock reports the offset the core believes in; the
// simulation knows the exact one: true time - client time.
// Each path has fixed one-way delays (their difference is asymmetry), an
// exponentially distributed queueing delay, and a loss probability. A server
// can fail: stop answering, its clock jump or drift, lose its reference
// (unsynchronised replies), rate-limit the client (RATE kiss-o'-death) or
// deny it (the real core then drops silently: it has no DENY kiss). Timers
// run on true time. All randomness comes from seeded generators.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/ntp_server.hpp"
#include "simulation/sim_clock.hpp"
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
    double clock_error = 0.0;  // s, server clock minus true time at t = 0
    double drift = 0.0;        // s/s, the server clock's frequency error (free-running)
    double jump_at = std::numeric_limits<double>::infinity();  // s, true time of a jump
    double jump = 0.0;  // s, by which the server clock jumps at jump_at
    PathModel path;
    double dies_at = std::numeric_limits<double>::infinity();  // s of true time
    // From these times on (s of true time), the server answers unsynchronised
    // (leap 3, stratum 16: its reference lost), answers every request with a
    // RATE kiss-o'-death (its rate limiter out of tokens for us), or denies us
    // (its access list: the real core drops the request without a word).
    double unsync_at = std::numeric_limits<double>::infinity();
    double kod_rate_at = std::numeric_limits<double>::infinity();
    double deny_at = std::numeric_limits<double>::infinity();
    uint8_t stratum = 1;

    // Server clock minus true time at true time @t (s).
    double error_at(double t) const { return clock_error + drift * t + (t >= jump_at ? jump : 0); }
    // Its clock ever leaves true time.
    bool falseticker() const { return clock_error != 0 || drift != 0 || jump != 0; }
};

struct SimConfig {
    uint64_t seed = 1;
    // True time at t = 0, Unix seconds (default 2026-11-18).
    int64_t start_unix_seconds = 1'795'000'000;
    double clock_offset = 0.025;   // s, client clock minus true time at t = 0
    double frequency_error = 0.0;  // s/s, of the oscillator at t = 0
    double wander = 0.0;           // (s/s)/sqrt(s): random walk of the oscillator's frequency
    std::vector<FrequencyStep> frequency_steps;  // the oscillator's temperature steps
    ClockModelKind clock_model = ClockModelKind::Ideal;
    unsigned tick_hz = 0;       // kernel models: Hz, 0 = the model's default
    double tick_latency = 0.0;  // kernel models: s, mean exponential tick latency
    // The discipline's settings. ntpsim (scenario.cpp) sets
    // controller.frequency_at_second as the daemon does for the backend:
    // true for the nanoclock, false for CLOCK_REALTIME.
    ControllerConfig controller;
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
    // Each source's verdict, in source order: '*' system peer, '+' survivor,
    // '-' outlier, 'x' falseticker, '?' unfit.
    std::string verdicts;
    std::vector<double> root_distances;  // s, each source's, in source order
};

// The client clock once a second of true time.
struct ClockSample {
    double time = 0.0;             // s, true time
    double error = 0.0;            // s, client clock minus true time
    double frequency_error = 0.0;  // s/s, oscillator plus correction
    // s, what the core's correction ledger says the daemon has done to the
    // clock minus what the clock really did (steps and integrated frequency
    // since the start): 0 when commands take effect as the ledger books them.
    double ledger_error = 0.0;
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
    double clock_error() { return clock_->error(now_); }
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
    // What the server at @index did (its normal core; a rate-limiting or
    // denying one from kod_rate_at / deny_at on counts separately).
    const ServerCounters& server_counters(size_t index) const {
        return servers_[index].core->counters();
    }
    ClockModel& clock() { return *clock_; }
    // Commands the clock refused (handle_command_failed was called).
    unsigned refused_commands() const { return refused_; }

  private:
    struct SimServer {
        ServerModel model;
        std::unique_ptr<NtpServer> core;
        std::unique_ptr<NtpServer> limited;  // from kod_rate_at
        std::unique_ptr<NtpServer> denying;  // from deny_at
    };

    NtpInstant local_clock(double true_time) { return clock_->read(true_time); }
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
    Oscillator oscillator_;
    std::unique_ptr<ClockModel> clock_;  // before client_: it starts at the clock's frequency
    ClientCore client_;
    std::vector<SimServer> servers_;
    std::multimap<double, std::function<void()>> events_;
    std::map<SourceId, uint64_t> timer_generation_;
    std::map<PoolId, uint64_t> pool_timer_generation_;
    NtpInstant start_;  // true time at t = 0
    std::vector<UpdateRecord> updates_;
    double now_ = 0.0;
    uint64_t slew_generation_ = 0;
    unsigned refused_ = 0;
    double ledger_origin_ = 0.0;  // s, correction applied before the ledger's epoch
    std::vector<ClockSample> clock_samples_;
    std::vector<double> request_times_;
};

}  // namespace nanotime::ntp::sim
