#include "simulation/sim_clock.hpp"

#include <algorithm>
#include <cmath>

#include "io/clock.hpp"
#include "nkshim.h"

namespace nanotime::ntp::sim {

double normal(RandomSource& random) {
    const double u1 = std::max(random.unit(), 1e-300);
    const double u2 = random.unit();
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

const char* clock_model_name(ClockModelKind kind) {
    switch (kind) {
        case ClockModelKind::Ideal:
            return "ideal";
        case ClockModelKind::Nanoclock:
            return "nanoclock";
        case ClockModelKind::Realtime:
            return "realtime";
    }
    return "?";
}

// ---- oscillator ----

Oscillator::Oscillator(OscillatorModel model, uint64_t seed)
    : model_(std::move(model)), random_(seed) {
    std::stable_sort(model_.steps.begin(), model_.steps.end(),
                     [](const FrequencyStep& a, const FrequencyStep& b) { return a.at < b.at; });
    while (next_step_ < model_.steps.size() && model_.steps[next_step_].at <= 0)
        step_sum_ += model_.steps[next_step_++].frequency;
    y_ = model_.frequency + step_sum_;
}

void Oscillator::advance(double t) {
    const auto k = static_cast<int64_t>(std::floor(t));
    while (second_ < k) {
        drift_ += y_;
        ++second_;
        if (model_.wander > 0) walk_ += model_.wander * normal(random_);
        while (next_step_ < model_.steps.size() &&
               model_.steps[next_step_].at <= static_cast<double>(second_))
            step_sum_ += model_.steps[next_step_++].frequency;
        y_ = model_.frequency + walk_ + step_sum_;
    }
}

double Oscillator::drift(double t) {
    advance(t);
    return drift_ + y_ * (t - static_cast<double>(second_));
}

double Oscillator::frequency(double t) {
    advance(t);
    return y_;
}

namespace {

// ---- ideal ----

class IdealClock final : public ClockModel {
  public:
    IdealClock(const ClockModelConfig& config, Oscillator& oscillator)
        : oscillator_(oscillator),
          start_(NtpInstant::from_unix(Nanoseconds(config.start_unix_seconds * kNanosPerSecond))),
          offset_(config.offset),
          applied_(config.initial_frequency) {}

    NtpInstant read(double t) override { return start_ + from_seconds(t + error(t)); }
    double error(double t) override {
        advance(t);
        return offset_ + oscillator_.drift(t) + correction_;
    }
    double rate_error(double t) override {
        const double y = oscillator_.frequency(t);
        return y + applied_ + y * applied_;
    }
    bool discipline(double t, const DisciplineClock& dc) override {
        const ClockCommand& cmd = dc.command;
        if (cmd.action == ClockAction::Panic) return true;
        advance(t);
        if (cmd.action == ClockAction::Step) correction_ += cmd.step;
        applied_ = cmd.frequency;
        return true;
    }
    bool set_frequency(double t, double frequency) override {
        advance(t);
        applied_ = frequency;
        return true;
    }
    double frequency(double) override { return applied_; }

  private:
    // The correction (s) integrated up to @t: the frequency set applies to
    // the oscillator's time, as a kernel's does and as the ledger books it.
    void advance(double t) {
        if (t <= since_) return;
        const double drift = oscillator_.drift(t);
        correction_ += applied_ * (t - since_ + drift - since_drift_);
        since_ = t;
        since_drift_ = drift;
    }

    Oscillator& oscillator_;
    NtpInstant start_;
    double offset_;           // s, at t = 0
    double applied_;          // s/s, the frequency correction set
    double correction_ = 0;   // s, steps plus the integral of applied_ up to since_
    double since_ = 0;        // s of true time
    double since_drift_ = 0;  // s, the oscillator's drift at since_
};

// ---- libnanokernel ----

constexpr uint64_t kPccAtZero = 1000 * 1'000'000'000ULL;  // ns: PCC at t = 0 (as nksim)

// clock_adjtime on a libnanokernel clock at the simulation's current PCC:
// the daemon's ClockDiscipline talks to it as to any kernel clock.
class NanokernelBackend final : public io::ClockBackend {
  public:
    NanokernelBackend(nk_clock* clock, const uint64_t& pcc) : clock_(clock), pcc_(pcc) {}

    std::string name() const override { return "libnanokernel"; }
    timespec now() const override {
        int64_t sec = 0;
        int32_t nsec = 0;
        nks_read(clock_, pcc_, &sec, &nsec);
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(sec);
        ts.tv_nsec = nsec;
        return ts;
    }
    int adjust(timex& tx) override {
        nks_timex n{};
        n.modes = tx.modes;
        n.offset = tx.offset;
        n.freq = tx.freq;
        n.maxerror = tx.maxerror;
        n.esterror = tx.esterror;
        n.status = tx.status;
        n.constant = tx.constant;
        n.tick = tx.tick;
        n.shift = tx.shift;
        n.tai = tx.tai;
        n.time_sec = tx.time.tv_sec;
        n.time_usec = tx.time.tv_usec;
        const int r = nks_adjtime(clock_, &n, pcc_);
        if (r < 0) return r;  // -EINVAL, as clock_adjtime's -errno
        tx.offset = n.offset;
        tx.freq = n.freq;
        tx.maxerror = n.maxerror;
        tx.esterror = n.esterror;
        tx.status = n.status;
        tx.constant = n.constant;
        tx.precision = n.precision;
        tx.tolerance = n.tolerance;
        tx.tick = n.tick;
        tx.ppsfreq = n.ppsfreq;
        tx.jitter = n.jitter;
        tx.shift = n.shift;
        tx.stabil = n.stabil;
        tx.jitcnt = n.jitcnt;
        tx.calcnt = n.calcnt;
        tx.errcnt = n.errcnt;
        tx.stbcnt = n.stbcnt;
        tx.tai = n.tai;
        tx.time.tv_sec = static_cast<time_t>(n.time_sec);
        tx.time.tv_usec = static_cast<suseconds_t>(n.time_usec);
        return r;
    }

  private:
    nk_clock* clock_;
    const uint64_t& pcc_;
};

class KernelClock final : public ClockModel {
  public:
    KernelClock(const ClockModelConfig& config, Oscillator& oscillator)
        : oscillator_(oscillator),
          start_seconds_(config.start_unix_seconds),
          // 16-byte aligned and zeroed, as nkshim.h asks
          storage_((nks_clock_size() + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)),
          backend_(clock(), pcc_),
          discipline_(backend_),
          boundary_ticks_(config.kind == ClockModelKind::Nanoclock),
          latency_(config.tick_latency),
          random_(config.seed * 3 + 5) {
        const unsigned hz = config.tick_hz ? config.tick_hz : boundary_ticks_ ? 10 : 250;
        period_ = 1'000'000'000ULL / hz;
        const double whole = std::floor(config.offset);
        const auto nsec = static_cast<int32_t>(std::llround((config.offset - whole) * 1e9));
        const uint32_t options = boundary_ticks_ ? 0 : NKS_OPT_LINUX_ALL;
        pcc_ = kPccAtZero;
        nks_init(clock(), options, pcc_, config.start_unix_seconds + static_cast<int64_t>(whole),
                 nsec);  // normalised by nk_init
        next_tick_ = pcc_ + period_ + latency();
        // What the daemon finds and does at start: a frequency left by a
        // drift file (ClockManager::start), then ClockDiscipline::take_control.
        if (config.initial_frequency != 0) backend_.set_frequency(config.initial_frequency * 1e6);
        discipline_.take_control();
    }

    NtpInstant read(double t) override {
        run_to(t);
        int64_t sec = 0;
        int32_t nsec = 0;
        nks_read(clock(), pcc_, &sec, &nsec);
        return NtpInstant::from_unix(Nanoseconds(sec * kNanosPerSecond + nsec));
    }
    double error(double t) override {
        run_to(t);
        int64_t sec = 0;
        int32_t nsec = 0;
        nks_read(clock(), pcc_, &sec, &nsec);
        return static_cast<double>(sec - start_seconds_) - t + static_cast<double>(nsec) * 1e-9;
    }
    double rate_error(double t) override {
        run_to(t);
        // The slope the last tick installed: clock ns per PCC ns, << 32.
        const double slope =
            static_cast<double>(static_cast<int64_t>(nks_mult(clock()) - (uint64_t{1} << 32))) /
            4294967296.0;
        const double y = oscillator_.frequency(t);
        return y + slope + y * slope;
    }
    bool discipline(double t, const DisciplineClock& dc) override {
        run_to(t);
        return discipline_.apply(dc.command, dc.max_error, dc.est_error) >= 0;
    }
    bool set_frequency(double t, double frequency) override {
        run_to(t);
        return discipline_.set_frequency(frequency) >= 0;
    }
    double frequency(double t) override {
        run_to(t);
        return discipline_.frequency().value_or(0.0);
    }
    uint64_t ticks() const override { return ticks_; }

  private:
    nk_clock* clock() { return reinterpret_cast<nk_clock*>(storage_.data()); }

    uint64_t pcc_at(double t) {
        // Whole seconds apart, so that the rounding stays below a nanosecond
        // however long the run.
        const double whole = std::floor(t);
        return kPccAtZero + static_cast<uint64_t>(whole) * 1'000'000'000ULL +
               static_cast<uint64_t>(std::llround((t - whole + oscillator_.drift(t)) * 1e9));
    }

    uint64_t latency() {
        if (latency_ <= 0) return 0;
        return static_cast<uint64_t>(
            std::llround(-latency_ * std::log(1.0 - random_.unit()) * 1e9));
    }

    // Runs every tick due up to true time @t and leaves pcc_ there.
    void run_to(double t) {
        const uint64_t target = std::max(pcc_at(t), pcc_);
        while (next_tick_ <= target) {
            const uint64_t at = next_tick_;
            const uint64_t boundary = nks_tick(clock(), at);
            ++ticks_;
            if (boundary_ticks_) {
                // kmod/clock.c nc_tick: the next periodic tick, or the
                // second boundary if it comes first.
                uint64_t next = at + period_;
                if (boundary > at && boundary < next) next = boundary;
                next_tick_ = next + latency();
            } else {
                // The jiffies grid: the periodic tick only.
                ++jiffies_;
                next_tick_ = kPccAtZero + jiffies_ * period_ + latency();
            }
        }
        pcc_ = target;
    }

    Oscillator& oscillator_;
    int64_t start_seconds_;
    std::vector<std::max_align_t> storage_;
    uint64_t pcc_ = kPccAtZero;  // ns, the PCC of the latest call
    NanokernelBackend backend_;
    io::ClockDiscipline discipline_;
    bool boundary_ticks_;
    double latency_;  // s
    SplitMix64 random_;
    uint64_t period_ = 0;     // ns of PCC between periodic ticks
    uint64_t next_tick_ = 0;  // ns, PCC of the next tick
    uint64_t jiffies_ = 1;    // realtime: periodic ticks scheduled so far
    uint64_t ticks_ = 0;
};

}  // namespace

std::unique_ptr<ClockModel> make_clock_model(const ClockModelConfig& config,
                                             Oscillator& oscillator) {
    if (config.kind == ClockModelKind::Ideal)
        return std::make_unique<IdealClock>(config, oscillator);
    return std::make_unique<KernelClock>(config, oscillator);
}

}  // namespace nanotime::ntp::sim
