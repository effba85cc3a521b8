// sim_clock.hpp - the client's oscillator and the clock the daemon
// disciplines, in virtual time, for ntpsim (sim_network.hpp).
//
// Oscillator: its fractional frequency error y is constant over each second
// of true time, y_k = frequency + w_k + (temperature steps begun by then),
// with a random walk w_{k+1} = w_k + wander * N(0, 1). Its time (the PCC,
// CLOCK_MONOTONIC_RAW) runs t + integral of y.
//
// Clock models, all fed the same oscillator:
//   ideal      the clock runs at y + the frequency last set, exactly from the
//              instant it is set; steps are exact (the daemon's own idea of
//              the clock: what the correction ledger assumes)
//   nanoclock  libnanokernel with its default options (nanoclock.ko): nk_tick
//              every 1/tick_hz s of PCC and at each second boundary, as the
//              module's hrtimer does (default 10 Hz)
//   realtime   libnanokernel with NK_OPT_LINUX_ALL, the model of Linux's
//              CLOCK_REALTIME: nk_tick on the jiffies grid only (default
//              250 Hz, Debian's CONFIG_HZ), so second overflow runs at the
//              first tick after each boundary
// The kernel models are driven exactly as nanotimed drives a clock: the
// daemon's own io::ClockDiscipline (take_control at start, apply() for
// every DisciplineClock, set_frequency() at the end of a slew) issues its
// clock_adjtime calls to a ClockBackend that hands them to nk_adjtime, and
// the local clock is nk_read at the oscillator's PCC. Each tick may fire
// late by an exponentially distributed latency.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "source/client_core.hpp"
#include "util/random.hpp"

namespace nanotime::ntp::sim {

struct FrequencyStep {
    double at = 0.0;         // s of true time; begins at the first whole second >= at
    double frequency = 0.0;  // s/s added to the oscillator's frequency error
};

struct OscillatorModel {
    double frequency = 0.0;  // s/s at t = 0 (+: the oscillator runs fast)
    double wander = 0.0;     // (s/s)/sqrt(s): sd of the random walk's step per second
    std::vector<FrequencyStep> steps;
};

class Oscillator {
  public:
    Oscillator(OscillatorModel model, uint64_t seed);

    // How far the oscillator has run ahead of true time by true time @t (s):
    // the integral of y from 0 to @t. @t must not go back by a second or more.
    double drift(double t);
    // y at true time @t (s/s).
    double frequency(double t);

  private:
    void advance(double t);

    OscillatorModel model_;
    SplitMix64 random_;
    int64_t second_ = 0;     // k: the second y_ holds for
    double y_ = 0.0;         // s/s, y_k
    double walk_ = 0.0;      // s/s, w_k
    double step_sum_ = 0.0;  // s/s, temperature steps begun by second k
    double drift_ = 0.0;     // s, integral of y up to second k
    size_t next_step_ = 0;   // into model_.steps, sorted by time
};

enum class ClockModelKind : uint8_t { Ideal, Nanoclock, Realtime };

const char* clock_model_name(ClockModelKind kind);

struct ClockModelConfig {
    ClockModelKind kind = ClockModelKind::Ideal;
    int64_t start_unix_seconds = 1'795'000'000;  // true time at t = 0
    double offset = 0.0;                         // s, clock minus true time at t = 0
    // fraction: the frequency correction the clock already runs at (a drift
    // file, or what a previous daemon left), before the daemon takes control.
    double initial_frequency = 0.0;
    unsigned tick_hz = 0;       // Hz; 0: the model's default (10 nanoclock, 250 realtime)
    double tick_latency = 0.0;  // s, mean exponential latency of each tick (kernel models)
    uint64_t seed = 1;          // for the tick latencies
};

class ClockModel {
  public:
    virtual ~ClockModel() = default;
    // All at true time @t (s), which never decreases from one call to the next.
    // The local clock (what clock_gettime returns).
    virtual NtpInstant read(double t) = 0;
    // Local clock minus true time (s).
    virtual double error(double t) = 0;
    // How fast the clock gains on true time now (s/s): oscillator and correction.
    virtual double rate_error(double t) = 0;
    // What the daemon does with a DisciplineClock (ClockManager::correct ->
    // io::ClockDiscipline::apply); false if the clock refused it.
    virtual bool discipline(double t, const DisciplineClock& command) = 0;
    // The end of a slew (io::ClockDiscipline::set_frequency); false if refused.
    virtual bool set_frequency(double t, double frequency) = 0;
    // The frequency correction the clock runs at, read back (fraction).
    virtual double frequency(double t) = 0;
    // Kernel ticks so far (0 for the ideal model).
    virtual uint64_t ticks() const { return 0; }
};

// The clock in @config, on @oscillator (which must outlive it). For the
// kernel models the daemon's take_control() has run: frequency() is what
// the daemon starts its core with.
std::unique_ptr<ClockModel> make_clock_model(const ClockModelConfig& config,
                                             Oscillator& oscillator);

// A standard normal deviate from two uniforms (Box-Muller).
double normal(RandomSource& random);

}  // namespace nanotime::ntp::sim
