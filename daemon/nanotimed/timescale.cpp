// timescale.cpp - the disciplined clock's time and kernel stamps on it.
#include "nanotimed/timescale.hpp"

namespace nanotime::daemon {

ntp::NtpInstant Timescale::now() const {
    const timespec ts = clock_.now();
    return ntp::NtpInstant::from_unix(
        ntp::Nanoseconds(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec));
}

std::optional<ntp::NtpInstant> Timescale::kernel_time(const io::PacketTimestamps& ts) const {
    if (!ts.software) return std::nullopt;
    int64_t ns = int64_t{ts.software->tv_sec} * 1'000'000'000 + ts.software->tv_nsec;
    // Kernel stamps are CLOCK_REALTIME: exact for the system clock; for the
    // nanoclock, add the measured nanoclock - realtime difference (realtime
    // is steered to the nanoclock, but never exactly on it).
    if (!stamps_on_clock_) {
        const std::optional<int64_t> diff = clock_.minus_realtime_ns();
        if (!diff) return std::nullopt;
        ns += *diff;
    }
    return ntp::NtpInstant::from_unix(ntp::Nanoseconds(ns));
}

}  // namespace nanotime::daemon
