// simulator.hpp - runs libnanokernel the way nanoclock.ko does.
//
// Event-driven over the PCC timeline (CLOCK_MONOTONIC_RAW ns of the modelled
// oscillator):
//   - a periodic hrtimer tick every 1/tick_hz s of PCC, plus a tick at the
//     second boundary nk_tick() predicts, both late by an exponential latency:
//     nk_tick(pcc);
//   - each PPS edge that is not lost: nk_hardpps(pcc of the jittered timestamp);
//   - each NTP update: nk_adjtime(ADJ_OFFSET | ADJ_NANO, true - clock + noise);
//   - error samples (sample_hz per true second, at a random phase within each
//     sample period): nk_read(pcc(t)) - t.
// Around every core call the clock is read at the same PCC before and after,
// to measure discontinuities; every read is checked for monotonicity.
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "core.hpp"
#include "scenario.hpp"

namespace nksim {

struct SimResult {
    Variant variant;
    // One entry per sample.
    std::vector<double> t_s;       // true time, s since the start
    std::vector<double> err_ns;    // nanoclock - true, ns
    std::vector<double> ferr_ppb;  // frequency error of the disciplined clock, ppb:
                                   // (1 + time_freq)(1 + y) - 1
    // Event counts.
    uint64_t ticks = 0, boundary_ticks = 0, hardpps = 0, ntp_updates = 0, reads = 0;
    // Checks on the core.
    uint64_t nonmonotonic = 0;          // reads that went backwards
    uint64_t discontinuities = 0;       // core calls that moved time(pcc) by > 1 ns
    double max_discontinuity_ns = 0.0;  // largest such move
    // Model counters.
    PpsCounters pps;
    uint64_t ntp_lost = 0;
    // Core state at the end (nk_adjtime modes = 0).
    nks_timex final_tx{};
    int final_state = 0;
    double runtime_s = 0.0;  // wall-clock time of the run
};

// @trace (optional): one line per core event (see README.md, "Trace").
SimResult simulate(const Scenario& s, const Variant& v, std::ostream* trace = nullptr);

}  // namespace nksim
