// clock_controller.hpp - from the combined estimate to what is done to the
// clock: the frequency it should run at, a bounded slew for the offset, or a
// step.
//
// nanotimed measures offset and frequency itself (source_estimator.hpp) and
// never leaves the loop to the kernel PLL, whose time constant would have to
// match the update interval (it does not: poll changes, samples go missing).
// At each update, with e = estimated offset now (server minus local, s):
//   step  when |e| exceeds the makestep threshold within the first makestep
//         updates, or the step threshold at any time (0 disables either), or
//         a step was armed by the operator; never beyond the panic threshold
//         unless armed;
//   slew  otherwise: run at base + e/T for T seconds, then at base, where base
//         is the estimated frequency and T = ratio * sd * interval / (2 |e|):
//         an offset at the noise level (sd) is removed over about 1.5 update
//         intervals, a large one faster (chrony's corrtimeratio), never faster
//         than max_slew_rate (chrony's maxslewrate: 0.1 s goes in 1.2 s).
// The command is sans-IO: the daemon carries it out and calls slew_ended()
// when T has passed.
#pragma once

#include <optional>
#include <string>

#include "discipline/correction_ledger.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct ControllerConfig {
    double step_threshold = 0.128;    // s, step beyond this at any time (0: never)
    double panic_threshold = 1000.0;  // s, refuse beyond this (0: never)
    double makestep_threshold = 1.0;  // s, step beyond this in the first updates (0: never)
    int makestep_limit = 3;           // updates that may step; < 0: all
    double max_frequency = 500e-6;    // |base frequency| (Linux MAXFREQ for ADJ_FREQUENCY)
    double max_slew_rate = 83333e-6;  // |slew| on top of it (the kernel tick: up to 10 %)
    double correction_ratio = 3.0;    // slew duration per update interval at the noise level
    double min_slew = 1.0;            // s, shortest slew
    // false: the clock is only watched (clock.adjust = false, chronyd -x):
    // commands are worked out for status but never recorded as done, so the
    // ledger stays true to a clock nobody corrects.
    bool adjust = true;
    // The clock applies a new frequency only at its next whole second, as
    // the nanokernel does (FreeBSD's ntp_update_second), not at once as
    // Linux's CLOCK_REALTIME does: the ledger books changes there and slews
    // last whole seconds.
    bool frequency_at_second = false;
};

// What the regression tells about the clock now, all sources combined.
struct ClockEstimate {
    double offset = 0.0;     // s, raw offset at the oscillator time of `now`
    double offset_sd = 0.0;  // s
    bool has_frequency = false;
    double frequency = 0.0;     // fraction, raw
    double frequency_sd = 0.0;  // fraction
    double interval = 64.0;     // s, the update interval (the system peer's poll)
};

enum class ClockAction : uint8_t { Slew, Step, Panic };

struct ClockCommand {
    ClockAction action = ClockAction::Slew;
    double offset = 0.0;             // s, server minus local now (what is corrected)
    double step = 0.0;               // s, for Step
    double frequency = 0.0;          // fraction to set now
    double base_frequency = 0.0;     // fraction to set when the slew ends
    double slew_seconds = 0.0;       // s, 0: no slew (frequency == base_frequency)
    double end_after = 0.0;          // s from the command: call slew_ended() then
    bool frequency_limited = false;  // the estimate hit max_frequency
};

class ClockController {
  public:
    explicit ClockController(ControllerConfig config) : config_(config) {}

    // One update at local time @now; records the command in @ledger.
    ClockCommand update(NtpInstant now, const ClockEstimate& estimate, CorrectionLedger& ledger);
    // The slew of the last command has run its time: back to the base frequency.
    // Nothing if a newer command replaced it.
    std::optional<double> slew_ended(NtpInstant now, CorrectionLedger& ledger);

    void arm_step() { step_armed_ = true; }
    // Allow makestep again (after the estimates were restarted).
    void restart() { updates_ = 0; }
    unsigned updates() const { return updates_; }
    bool slewing() const { return slewing_; }
    double base_frequency() const { return base_frequency_; }
    bool frequency_limited() const { return frequency_limited_; }
    const ControllerConfig& config() const { return config_; }

  private:
    // When a frequency set at local time @t takes effect (see
    // ControllerConfig::frequency_at_second).
    NtpInstant takes_effect(NtpInstant t) const;

    ControllerConfig config_;
    unsigned updates_ = 0;
    bool step_armed_ = false;
    bool slewing_ = false;
    bool has_base_ = false;
    double base_frequency_ = 0.0;  // fraction
    bool frequency_limited_ = false;
};

}  // namespace nanotime::ntp
