// timescale.hpp - the daemon's one job of conversion: reading the disciplined
// clock as an NtpInstant, and moving the kernel's socket timestamps
// (CLOCK_REALTIME) onto the disciplined clock's timescale.
//
// Read-only, so the server workers' threads share it with the main loop
// (ClockBackend::now() and minus_realtime_ns() are clock_gettime reads).
#pragma once

#include <optional>

#include "io/clock.hpp"
#include "io/event_loop.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::daemon {

class Timescale {
  public:
    // @stamps_on_clock: kernel stamps are already on @clock's timescale
    // (the system clock backend); otherwise they are moved by the measured
    // clock - realtime difference.
    Timescale(const io::ClockBackend& clock, bool stamps_on_clock)
        : clock_(clock), stamps_on_clock_(stamps_on_clock) {}

    ntp::NtpInstant now() const;
    // A kernel socket timestamp on the disciplined clock's timescale;
    // nothing without a software stamp (or if the difference cannot be read).
    std::optional<ntp::NtpInstant> kernel_time(const io::PacketTimestamps& ts) const;
    // The kernel's receive stamp of @d, or now.
    ntp::NtpInstant receive_time(const io::ReceivedDatagram& d) const {
        return kernel_time(d.rx).value_or(now());
    }

  private:
    const io::ClockBackend& clock_;
    bool stamps_on_clock_;
};

}  // namespace nanotime::daemon
