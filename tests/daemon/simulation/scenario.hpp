// scenario.hpp - ntpsim's scenario files: a TOML description of the
// oscillator, the network, the servers and the discipline's settings, with
// [expect] limits that make a scenario a test.
//
//   [simulation]  seed, seeds (runs with seed, seed+1, ...), duration (s),
//                 statistics_from (s: the statistics skip the start)
//   [clock]       offset (s, client minus true at start), frequency_ppm (of the
//                 oscillator), wander (ppb/sqrt(s), random walk), initial_ppm
//                 (the kernel's frequency correction at start: a drift file)
//   [discipline]  step_threshold, panic_threshold, makestep_threshold (s),
//                 makestep_limit, max_frequency_ppm
//   [source]      minpoll, maxpoll, iburst
//   [[server]]    delay (s, base one-way, both directions), asymmetry (s, added
//                 to the way out), jitter (s, mean exponential queueing, each
//                 way), loss (0-1), error (s, the server's clock), dies_at (s),
//                 stratum
//   [expect]      rms_offset, max_offset (s, upper limits), rms_frequency_ppb,
//                 converge_1ms, converge_100us (s: the clock is within 1 ms /
//                 100 us from then on, upper limit), min_mean_poll (s),
//                 max_steps
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
    std::string samples_file;  // "t error_s frequency_error_ppb" per second of the first run
    std::string plot_file;     // PNG of the first run (gnuplot)
    bool check = false;        // exit 1 when an [expect] limit fails
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
