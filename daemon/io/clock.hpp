// clock.hpp - the clock the daemon disciplines, behind one interface.
//
//   SystemClock     CLOCK_REALTIME through clock_adjtime (= adjtimex)
//   NanoClock       /dev/nanoclockN: clock_adjtime on FD_TO_CLOCKID(fd),
//                   which is ntp_adjtime for the nanokernel clock
//   FakeClock       in memory, for tests: records what was asked of it
// ClockDiscipline carries out the commands of the daemon's own discipline
// (discipline/clock_controller.hpp): frequency through ADJ_FREQUENCY, steps
// through ADJ_SETOFFSET. The kernel PLL/FLL stays off: its time constant
// would have to match the update interval, which changes.
#pragma once

#include <sys/timex.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "discipline/clock_controller.hpp"
#include "io/timex_names.hpp"  // status_flag_names(), clock_state_name()

struct nanoclock;  // libnanoclock

namespace nanotime::io {

class ClockBackend {
  public:
    virtual ~ClockBackend() = default;
    virtual std::string name() const = 0;
    // clock_gettime of this clock.
    virtual timespec now() const = 0;
    // clock_adjtime: returns the clock state (TIME_OK...) or -errno.
    virtual int adjust(timex& tx) = 0;
    // This clock minus CLOCK_REALTIME, ns, to put kernel socket timestamps
    // (always CLOCK_REALTIME) on this clock's timescale; nothing if unknown.
    virtual std::optional<int64_t> minus_realtime_ns() const { return 0; }

    // Reads the kernel state (modes = 0).
    int read(timex& tx);
    // Steps the clock by @offset_s. The status is left as the kernel leaves
    // it: Linux's settime path sets STA_UNSYNC on CLOCK_REALTIME, and a
    // freshly loaded nanoclock is STA_UNSYNC until something clears it.
    int step(double offset_s);
    // Clears STA_UNSYNC (ADJ_STATUS, read-modify-write: every other status
    // bit is kept); no write if it is already clear.
    int mark_synchronised();
    // Frequency correction in ppm: beyond what ADJ_FREQUENCY alone takes
    // (500 ppm), the kernel tick carries the coarse part (ADJ_TICK, 100 ppm
    // a step, up to +-10 %, as chrony slews), ADJ_FREQUENCY the rest.
    int set_frequency(double ppm);
    // Leap second for the end of the current day: +1 insert, -1 delete, 0 none.
    int set_leap(int direction);
    int set_tai(int offset);
    int set_errors(double max_error_s, double est_error_s);
};

// The whole frequency correction of @tx in ppm: ADJ_FREQUENCY plus the tick's
// departure from nominal (a tick of 0, as a zeroed timex has, is nominal).
double total_frequency_ppm(const timex& tx);

class SystemClock final : public ClockBackend {
  public:
    std::string name() const override { return "CLOCK_REALTIME"; }
    timespec now() const override;
    int adjust(timex& tx) override;
};

// Reads go through libnanoclock: the device's mmap page and the vDSO's
// CLOCK_MONOTONIC_RAW, no system call (the syscall if the page is missing).
// That makes minus_realtime_ns(), which converts every kernel packet stamp,
// a few tens of nanoseconds of vDSO reads instead of ten system calls, and
// the reading itself exact: no syscall entry and exit around it whose
// asymmetry would bias the measured difference.
class NanoClock final : public ClockBackend {
  public:
    // Opens the device; throws std::system_error.
    explicit NanoClock(const std::string& device);
    ~NanoClock() override;
    NanoClock(const NanoClock&) = delete;
    NanoClock& operator=(const NanoClock&) = delete;
    std::string name() const override { return device_; }
    timespec now() const override;
    int adjust(timex& tx) override;
    std::optional<int64_t> minus_realtime_ns() const override;
    // True when reads use the mmap page (false: the clock_gettime syscall).
    bool reads_page() const;

  private:
    std::string device_;
    ::nanoclock* clock_ = nullptr;
};

class FakeClock final : public ClockBackend {
  public:
    std::string name() const override { return "fake"; }
    timespec now() const override { return now_; }
    int adjust(timex& tx) override;

    timespec now_{1'700'000'000, 0};
    timex state_{};             // what a read returns
    std::vector<timex> calls;   // every adjust() that changed something
    std::vector<double> steps;  // seconds, from ADJ_SETOFFSET
    int fail_with = 0;          // if set, adjust() returns -fail_with
    // ADJ_SETOFFSET sets STA_UNSYNC, as Linux's settime path does for
    // CLOCK_REALTIME (the nanoclock leaves the status alone).
    bool step_sets_unsync = false;
};

// Passes reads through and swallows every change: `clock.adjust = false`
// (a server in a container, tests), like chronyd -x.
class ReadOnlyClock final : public ClockBackend {
  public:
    explicit ReadOnlyClock(std::unique_ptr<ClockBackend> inner) : inner_(std::move(inner)) {}
    std::string name() const override { return inner_->name() + " (read-only)"; }
    timespec now() const override { return inner_->now(); }
    std::optional<int64_t> minus_realtime_ns() const override {
        return inner_->minus_realtime_ns();
    }
    int adjust(timex& tx) override {
        if (tx.modes != 0) return TIME_OK;
        return inner_->adjust(tx);
    }

  private:
    std::unique_ptr<ClockBackend> inner_;
};

struct ClockOffset {
    int64_t offset_ns = 0;  // target - reference
    int64_t delay_ns = 0;   // the target interval around the reference read
};

// Reads target, reference, target @readings times and keeps the reading with
// the shortest target interval (the reference read is taken at its
// midpoint); nothing if a clock cannot be read.
std::optional<ClockOffset> measure_offset(const ClockBackend& reference, const ClockBackend& target,
                                          int readings = 5);

// What one ClockCommand does to a kernel clock, decided without touching it
// (like the PI servo's ServoOutput); ClockDiscipline::apply() makes the
// changes in this order.
struct ClockChanges {
    std::optional<double> step_s;     // s, ADJ_SETOFFSET, first
    std::optional<double> frequency;  // fraction, then the frequency
    // s, the kernel's maxerror and esterror (both >= 0, or neither)
    std::optional<double> max_error_s;
    std::optional<double> est_error_s;
    // STA_UNSYNC cleared, last: after the errors, so that a maxerror still
    // at the kernel's limit cannot flag the clock again at the next second.
    bool mark_synchronised = false;
};

// Panic: nothing. Slew: the frequency; step: the step, then the frequency;
// either way the errors (when both are given) and the clock marked
// synchronised.
ClockChanges clock_changes(const ntp::ClockCommand& command, double max_error_s,
                           double est_error_s);

class ClockDiscipline {
  public:
    explicit ClockDiscipline(ClockBackend& clock) : clock_(clock) {}
    // Takes the loop from the kernel: drops an offset a previous daemon left
    // to the kernel PLL (Linux keeps slewing it even with STA_PLL clear), then
    // clears STA_PLL and STA_FLL (PPS bits are kept). Returns the frequency
    // the clock runs at (fraction), nothing if the clock cannot be read.
    std::optional<double> take_control();
    // Carries out @command as clock_changes() says; after a slew or step the
    // kernel's maximum and estimated errors are set to @max_error_s (the root
    // distance) and @est_error_s, as ntpd does (otherwise Linux grows maxerror by 500 ppm
    // and marks the clock STA_UNSYNC after about 9 hours however well it is
    // disciplined), and STA_UNSYNC is cleared: whatever follows the kernel
    // status (ntp_adjtime clients, the CLOCK_REALTIME steering) need not wait
    // for the next update. Returns 0 or -errno (also in last_error()).
    int apply(const ntp::ClockCommand& command, double max_error_s, double est_error_s);
    // Runs the clock at @frequency (fraction): the end of a slew.
    int set_frequency(double frequency);
    // The frequency the clock runs at (fraction), read back.
    std::optional<double> frequency();
    int last_error() const { return last_error_; }

  private:
    ClockBackend& clock_;
    int last_error_ = 0;
};

}  // namespace nanotime::io
