// correction_ledger.hpp - what the daemon has done to the local clock, so that
// samples taken at different times share one timescale.
//
// The local clock reads L = x + C(x), where x is the free-running
// oscillator's time (what the clock would read had the daemon never touched
// it, s since the ledger's epoch) and C is the correction the daemon applied:
// the integral of the frequency it set, plus its steps (s). The ledger keeps
// C as a piecewise-linear function of x. An offset theta = server - L measured
// at L becomes the raw offset theta + C(x): server minus the free-running
// oscillator, which no action of the daemon changes. A source's samples so
// stay valid through every frequency change, slew and step, and a regression
// over them sees only the oscillator and the network (chrony reaches the same
// by rewriting its stored samples at every correction).
#pragma once

#include <deque>

#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct RawPoint {
    double x = 0.0;           // s, oscillator time since the epoch
    double correction = 0.0;  // s, C(x): local clock minus oscillator time
};

class CorrectionLedger {
  public:
    // @frequency: the clock's frequency correction now, as a fraction (ppm *
    // 1e-6): the kernel's own value before the daemon changes anything.
    explicit CorrectionLedger(double frequency = 0.0) : rate_(frequency) {}

    // Where local time @local falls on the oscillator timescale. Local times
    // before the oldest kept segment are mapped with that segment. The first
    // call (of any) fixes the epoch: x = 0 there.
    RawPoint at(NtpInstant local) const;
    // From local time @local on (which may lie ahead), the clock runs at
    // @frequency (fraction); a booked change at or after @local that has not
    // happened yet is dropped.
    void set_frequency(NtpInstant local, double frequency);
    // At local time @local (read before the step) the clock was stepped by
    // @amount_s (L jumps, x does not) and from then on runs at @frequency.
    void step(NtpInstant local, double amount_s, double frequency);
    double frequency() const { return rate_; }
    bool started() const { return started_; }

  private:
    struct Segment {
        double x;     // s, where the segment starts
        double c;     // s, C at x
        double rate;  // dC/dx over the segment (fraction)
        bool step;    // begins with a step (never superseded)
    };
    double local_seconds(NtpInstant local) const { return to_seconds(local - epoch_); }
    void start(NtpInstant local) const;

    // The epoch is fixed lazily, by whichever call comes first (a lookup is
    // logically const).
    mutable NtpInstant epoch_;
    mutable bool started_ = false;
    double rate_;
    mutable std::deque<Segment> segments_;  // oldest first; a handful is enough
};

}  // namespace nanotime::ntp
