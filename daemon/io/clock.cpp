#include "io/clock.hpp"

#include <libnanoclock.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <system_error>

namespace nanotime::io {
namespace {

int checked(int ret) {
    return ret < 0 ? -errno : ret;
}

}  // namespace

int ClockBackend::read(timex& tx) {
    tx = timex{};
    return adjust(tx);
}

int ClockBackend::step(double offset_s) {
    timex tx{};
    tx.modes = ADJ_SETOFFSET | ADJ_NANO;
    double whole = std::floor(offset_s);
    long nanos = std::lround((offset_s - whole) * 1e9);
    if (nanos >= 1'000'000'000) {
        whole += 1;
        nanos -= 1'000'000'000;
    }
    tx.time.tv_sec = static_cast<time_t>(whole);
    tx.time.tv_usec = nanos;  // with ADJ_NANO this field holds nanoseconds
    return adjust(tx);
}

int ClockBackend::mark_synchronised() {
    timex cur{};
    const int r = read(cur);
    if (r < 0 || !(cur.status & STA_UNSYNC)) return r;
    timex tx{};
    tx.modes = ADJ_STATUS;
    tx.status = cur.status & ~STA_UNSYNC;
    return adjust(tx);
}

namespace {

constexpr long kNominalTick = 10000;   // us per 1/USER_HZ (100 Hz) s
constexpr long kMaxTickChange = 1000;  // +-10 %: what Linux accepts
constexpr double kPpmPerTick = 100.0;  // 1 us per 10 ms

}  // namespace

double total_frequency_ppm(const timex& tx) {
    const long tick = tx.tick == 0 ? kNominalTick : tx.tick;
    return static_cast<double>(tx.freq) / 65536.0 +
           static_cast<double>(tick - kNominalTick) * kPpmPerTick;
}

int ClockBackend::set_frequency(double ppm) {
    timex tx{};
    tx.modes = ADJ_FREQUENCY | ADJ_TICK;
    const long ticks = std::clamp(std::lround(ppm / kPpmPerTick), -kMaxTickChange, kMaxTickChange);
    tx.tick = kNominalTick + ticks;
    const double rest = ppm - static_cast<double>(ticks) * kPpmPerTick;
    tx.freq = static_cast<long>(std::llround(rest * 65536.0));  // ppm scaled by 2^16
    return adjust(tx);
}

int ClockBackend::set_leap(int direction) {
    timex cur{};
    const int r = read(cur);
    if (r < 0) return r;
    timex tx{};
    tx.modes = ADJ_STATUS;
    tx.status = cur.status & ~(STA_INS | STA_DEL);
    if (direction > 0) tx.status |= STA_INS;
    if (direction < 0) tx.status |= STA_DEL;
    return adjust(tx);
}

int ClockBackend::set_tai(int offset) {
    timex tx{};
    tx.modes = ADJ_TAI;
    tx.constant = offset;
    return adjust(tx);
}

int ClockBackend::set_errors(double max_error_s, double est_error_s) {
    timex tx{};
    tx.modes = ADJ_MAXERROR | ADJ_ESTERROR;
    tx.maxerror = static_cast<long>(max_error_s * 1e6);  // microseconds
    tx.esterror = static_cast<long>(est_error_s * 1e6);
    return adjust(tx);
}

timespec SystemClock::now() const {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

int SystemClock::adjust(timex& tx) {
    return checked(clock_adjtime(CLOCK_REALTIME, &tx));
}

NanoClock::NanoClock(const std::string& device) : device_(device) {
    clock_ = nanoclock_open_path(device.c_str(), 1);
    if (!clock_) throw std::system_error(errno, std::generic_category(), "open " + device);
}

NanoClock::~NanoClock() {
    nanoclock_close(clock_);
}

bool NanoClock::reads_page() const {
    return nanoclock_has_page(clock_) != 0;
}

timespec NanoClock::now() const {
    timespec ts{};
    if (nanoclock_gettime(clock_, &ts) != 0) return timespec{};
    return ts;
}

int NanoClock::adjust(timex& tx) {
    return checked(nanoclock_adjtime(clock_, &tx));
}

std::optional<int64_t> NanoClock::minus_realtime_ns() const {
    const SystemClock realtime;
    // Three bracketed readings: without system calls a reading is rarely
    // interrupted, and the tightest of three is as good as of five.
    const auto m = measure_offset(realtime, *this, reads_page() ? 3 : 5);
    if (!m) return std::nullopt;
    return m->offset_ns;
}

std::optional<ClockOffset> measure_offset(const ClockBackend& reference, const ClockBackend& target,
                                          int readings) {
    auto ns = [](const timespec& ts) { return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec; };
    std::optional<ClockOffset> best;
    for (int i = 0; i < readings; ++i) {
        const int64_t t1 = ns(target.now());
        const int64_t r = ns(reference.now());
        const int64_t t2 = ns(target.now());
        if (t1 == 0 || r == 0 || t2 == 0) return std::nullopt;  // a read failed
        const int64_t delay = t2 - t1;
        if (delay < 0) continue;  // the target was stepped meanwhile
        if (!best || delay < best->delay_ns) best = ClockOffset{t1 + delay / 2 - r, delay};
    }
    return best;
}

int FakeClock::adjust(timex& tx) {
    if (fail_with != 0) return -fail_with;
    if (tx.modes == 0) {
        tx = state_;
        return TIME_OK;
    }
    calls.push_back(tx);
    if (tx.modes & ADJ_STATUS) state_.status = tx.status;
    if (tx.modes & ADJ_OFFSET) state_.offset = tx.offset;
    if (tx.modes & ADJ_FREQUENCY) state_.freq = tx.freq;
    if (tx.modes & ADJ_TICK) state_.tick = tx.tick;
    if (tx.modes & ADJ_TAI) state_.tai = static_cast<int>(tx.constant);
    if (tx.modes & ADJ_MAXERROR) state_.maxerror = tx.maxerror;
    if (tx.modes & ADJ_ESTERROR) state_.esterror = tx.esterror;
    if (tx.modes & ADJ_SETOFFSET) {
        const double scale = (tx.modes & ADJ_NANO) ? 1e-9 : 1e-6;
        steps.push_back(static_cast<double>(tx.time.tv_sec) +
                        static_cast<double>(tx.time.tv_usec) * scale);
        now_.tv_sec += tx.time.tv_sec;
        if (step_sets_unsync) state_.status |= STA_UNSYNC;
    }
    return TIME_OK;
}

std::optional<double> ClockDiscipline::take_control() {
    timex cur{};
    if (clock_.read(cur) < 0) return std::nullopt;
    timex tx{};
    tx.modes = ADJ_OFFSET | ADJ_STATUS | ADJ_NANO;
    tx.status = (cur.status | STA_PLL | STA_NANO) & ~STA_FLL;
    tx.offset = 0;  // with STA_PLL set, this zeroes the kernel's pending offset
    if (int r = clock_.adjust(tx); r < 0) return std::nullopt;
    tx = timex{};
    tx.modes = ADJ_STATUS;
    tx.status = (cur.status | STA_NANO) & ~(STA_PLL | STA_FLL);
    if (int r = clock_.adjust(tx); r < 0) return std::nullopt;
    return total_frequency_ppm(cur) * 1e-6;
}

int ClockDiscipline::set_frequency(double frequency) {
    last_error_ = clock_.set_frequency(frequency * 1e6);
    return last_error_ < 0 ? last_error_ : 0;
}

std::optional<double> ClockDiscipline::frequency() {
    timex cur{};
    if (clock_.read(cur) < 0) return std::nullopt;
    return total_frequency_ppm(cur) * 1e-6;
}

ClockChanges clock_changes(const ntp::ClockCommand& command, double max_error_s,
                           double est_error_s) {
    ClockChanges changes;
    if (command.action == ntp::ClockAction::Panic) return changes;
    if (command.action == ntp::ClockAction::Step) changes.step_s = command.step;
    changes.frequency = command.frequency;
    if (max_error_s >= 0 && est_error_s >= 0) {
        changes.max_error_s = max_error_s;
        changes.est_error_s = est_error_s;
    }
    changes.mark_synchronised = true;
    return changes;
}

int ClockDiscipline::apply(const ntp::ClockCommand& command, double max_error_s,
                           double est_error_s) {
    last_error_ = 0;
    const ClockChanges changes = clock_changes(command, max_error_s, est_error_s);
    if (changes.step_s) {
        if (int r = clock_.step(*changes.step_s); r < 0) return last_error_ = r;
    }
    if (changes.frequency) {
        if (int r = clock_.set_frequency(*changes.frequency * 1e6); r < 0) return last_error_ = r;
    }
    if (changes.max_error_s && changes.est_error_s) {
        if (int r = clock_.set_errors(*changes.max_error_s, *changes.est_error_s); r < 0)
            return last_error_ = r;
    }
    if (changes.mark_synchronised) {
        if (int r = clock_.mark_synchronised(); r < 0) return last_error_ = r;
    }
    return 0;
}

}  // namespace nanotime::io
