// clock.hpp - the clock the daemon disciplines, behind one interface.
//
//   SystemClock     CLOCK_REALTIME through clock_adjtime (= adjtimex)
//   NanoClock       /dev/nanoclockN: clock_adjtime on FD_TO_CLOCKID(fd),
//                   which is ntp_adjtime for the nanokernel clock
//   FakeClock       in memory, for tests: records what was asked of it
// ClockDiscipline applies an offset the protocol core measured: beyond the
// step threshold it steps (ADJ_SETOFFSET), beyond the panic threshold it
// refuses, otherwise it hands the offset to the kernel PLL (ADJ_OFFSET with
// STA_PLL, nanosecond resolution) - the kernel runs the loop.
#pragma once

#include <sys/timex.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/timex_names.hpp"  // status_flag_names(), clock_state_name()

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
    // Hands @offset_s to the kernel PLL (sets STA_PLL, clears STA_UNSYNC).
    int slew(double offset_s);
    // Steps the clock by @offset_s. The status is left as the kernel leaves
    // it: Linux's settime path sets STA_UNSYNC on CLOCK_REALTIME, and a
    // freshly loaded nanoclock is STA_UNSYNC until something clears it.
    int step(double offset_s);
    // Clears STA_UNSYNC (ADJ_STATUS, read-modify-write: every other status
    // bit is kept); no write if it is already clear.
    int mark_synchronised();
    // Frequency correction in ppm (the drift file's value).
    int set_frequency(double ppm);
    // Leap second for the end of the current day: +1 insert, -1 delete, 0 none.
    int set_leap(int direction);
    int set_tai(int offset);
    int set_errors(double max_error_s, double est_error_s);
};

class SystemClock final : public ClockBackend {
  public:
    std::string name() const override { return "CLOCK_REALTIME"; }
    timespec now() const override;
    int adjust(timex& tx) override;
};

class NanoClock final : public ClockBackend {
  public:
    // Opens the device; throws std::system_error.
    explicit NanoClock(const std::string& device);
    ~NanoClock() override;
    std::string name() const override { return device_; }
    timespec now() const override;
    int adjust(timex& tx) override;
    std::optional<int64_t> minus_realtime_ns() const override;
    clockid_t clock_id() const { return id_; }

  private:
    std::string device_;
    int fd_ = -1;
    clockid_t id_ = 0;
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

struct DisciplineConfig {
    double step_threshold = 0.128;  // s
    double panic_threshold = 1000;  // s, 0: never panic
};

enum class Correction { Slewed, Stepped, Panic, Failed };

class ClockDiscipline {
  public:
    ClockDiscipline(ClockBackend& clock, DisciplineConfig config)
        : clock_(clock), config_(config) {}
    // @offset_s: server minus local (positive: the clock is behind). A
    // successful step also marks the clock synchronised (STA_UNSYNC
    // cleared, as a slew does), so that what follows the kernel status -
    // clients of ntp_adjtime, the CLOCK_REALTIME steering, which waits while
    // the nanoclock is STA_UNSYNC - does not wait for the next slew, a poll
    // or more away. After a successful slew or step, the kernel's maximum
    // and estimated errors are set to @max_error_s (the root distance) and
    // @est_error_s (the system jitter) when these are >= 0, as ntpd does:
    // otherwise the kernel grows maxerror by 500 ppm from its boot value
    // and marks the clock STA_UNSYNC after about 9 hours (NTP_PHASE_LIMIT,
    // 16 s) however well it is disciplined.
    Correction apply(double offset_s, double max_error_s = -1, double est_error_s = -1);
    // The next apply() steps whatever the offset (nanotimectl makestep).
    void arm_step() { force_step_ = true; }
    int last_error() const { return last_error_; }

  private:
    Correction correct(double offset_s);

    ClockBackend& clock_;
    DisciplineConfig config_;
    bool force_step_ = false;
    int last_error_ = 0;
};

}  // namespace nanotime::io
