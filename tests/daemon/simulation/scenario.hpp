// scenario.hpp - ntpsim's scenario files: a TOML description of the
// oscillator, the clock model, the network, the servers and the discipline's
// settings, with [expect] limits that make a scenario a test. Unknown keys
// are rejected.
//
//   [simulation]  seed, seeds (runs with seed, seed+1, ...), duration (s),
//                 statistics_from (s: the statistics skip the start)
//   [clock]       model ("ideal" default, "nanoclock", "realtime"; see
//                 sim_clock.hpp), offset (s, client minus true at start),
//                 frequency_ppm (of the oscillator), wander (ppb/sqrt(s),
//                 random walk), initial_ppm (the kernel's frequency correction
//                 at start: a drift file), tick_hz (kernel models; 0: 10 for
//                 the nanoclock, 250 for realtime), tick_latency (s, mean
//                 exponential latency of each tick)
//   [[clock.step]] at (s), frequency_ppm (added to the oscillator's from then
//                 on: a temperature step)
//   [discipline]  step_threshold, panic_threshold, makestep_threshold (s),
//                 makestep_limit, max_frequency_ppm, max_slew_rate_ppm,
//                 correction_ratio, min_slew (s), frequency_at_second (bool;
//                 default as the daemon sets it: true for the nanoclock model)
//   [source]      minpoll, maxpoll, iburst
//   [[server]]    count (identical servers, default 1), delay (s, base one-way,
//                 both directions), asymmetry (s, added to the way out), jitter
//                 (s, mean exponential queueing, each way), loss (0-1, each
//                 way), error (s, the server's clock), drift_ppm (its clock's
//                 frequency error), jump_at (s) and jump (s: its clock jumps),
//                 dies_at (s: stops answering), unsync_at (s: answers
//                 unsynchronised), kod_rate_at (s: answers RATE kisses),
//                 deny_at (s: its access list denies us; dropped silently),
//                 stratum
//   [expect]      rms_offset, max_offset (s, upper limits), rms_frequency_ppb,
//                 converge_1ms, converge_100us (s: the clock is within 1 ms /
//                 100 us from then on, upper limit), min_mean_poll,
//                 max_mean_poll (s), max_steps; each is checked against the
//                 worst of the seeds
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "simulation/sim_network.hpp"

namespace nanotime::ntp::sim {

struct ScenarioOptions {
    std::optional<uint64_t> seed;    // overrides [simulation] seed
    std::optional<unsigned> seeds;   // overrides [simulation] seeds
    std::optional<double> jitter;    // overrides every server's jitter (s)
    std::optional<double> duration;  // s
    std::optional<int> minpoll, maxpoll;
    std::optional<std::string> model;  // overrides [clock] model
    // "t error_s frequency_error_ppb ledger_error_s" per second of the first run
    std::string samples_file;
    std::string plot_file;      // PNG of the first run (gnuplot)
    std::string trace_file;     // one line per clock update of the first run
    bool check = false;         // exit 1 when an [expect] limit fails
    std::string scenario_name;  // for the plot's title (set by run_scenario_file)
};

struct RunResult {
    double rms_offset = 0.0;     // s
    double max_offset = 0.0;     // s
    double rms_frequency = 0.0;  // s/s
    double converge_1ms = -1;    // s, -1: never
    double converge_100us = -1;  // s, -1: never
    double mean_poll = 0.0;      // s, per server, over the statistics window
    unsigned steps = 0;
};

// Runs the scenario in @path (over its seeds) and prints the report to
// @out; returns 0, 1 (an [expect] failed with --check) or 2 (bad file).
int run_scenario_file(const std::string& path, const ScenarioOptions& options, FILE* out);

}  // namespace nanotime::ntp::sim
