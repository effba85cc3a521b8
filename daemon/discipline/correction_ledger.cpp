#include "discipline/correction_ledger.hpp"

namespace nanotime::ntp {
namespace {

// Samples are mapped when they arrive, at most a round trip after they were
// taken, so only the latest few segments are ever looked up.
constexpr size_t kKeptSegments = 16;

}  // namespace

void CorrectionLedger::start(NtpInstant local) const {
    epoch_ = local;
    started_ = true;
    segments_.push_back(Segment{0.0, 0.0, rate_, false});
}

RawPoint CorrectionLedger::at(NtpInstant local) const {
    if (!started_) start(local);
    const double l = local_seconds(local);
    // L = x + c + rate * (x - x0)  =>  x = (L - c + rate * x0) / (1 + rate)
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
        const double x = (l - it->c + it->rate * it->x) / (1.0 + it->rate);
        // A local time read just after a segment began may compute a hair
        // before it (rounding): a nanosecond of slack.
        if (x >= it->x - 1e-9 || std::next(it) == segments_.rend()) {
            return RawPoint{x, it->c + it->rate * (x - it->x)};
        }
    }
    return RawPoint{l, 0.0};  // not reached: there is always a segment
}

void CorrectionLedger::set_frequency(NtpInstant local, double frequency) {
    if (!started_) start(local);
    const RawPoint p = at(local);
    // A change booked for later (a clock that changes frequency only at its
    // next second) and not yet reached is replaced by this one: the clock
    // keeps only the last frequency it was given.
    while (segments_.size() > 1 && !segments_.back().step && segments_.back().x >= p.x - 1e-9) {
        segments_.pop_back();
    }
    segments_.push_back(Segment{p.x, p.correction, frequency, false});
    if (segments_.size() > kKeptSegments) segments_.pop_front();
    rate_ = frequency;
}

void CorrectionLedger::step(NtpInstant local, double amount_s, double frequency) {
    if (!started_) start(local);
    const RawPoint p = at(local);
    segments_.push_back(Segment{p.x, p.correction + amount_s, frequency, true});
    if (segments_.size() > kKeptSegments) segments_.pop_front();
    rate_ = frequency;
}

}  // namespace nanotime::ntp
