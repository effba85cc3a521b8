// refclock_devices.hpp - the I/O half of the [[refclock]] drivers: the
// Unix datagram socket gpsd writes chrony SOCK samples to, the ntpd SHM
// segments gpsd fills, and the /dev/ppsN devices read through RFC 2783. The
// bytes go to the sans-IO parsers (refclock/) and every outcome, reading,
// PPS edge or refusal, to the callback with the refclock's index in the
// configuration; ClientDriver moves it onto the disciplined clock and into
// the core (which numbers a PPS edge's second).
//
// open() runs privileged, before seccomp (Daemon::open_sockets): the socket
// is bound (a stale file at its path removed first) with mode 0600, so only
// root (gpsd as Debian starts it, as for chrony's SOCK) may write to it; SHM
// segments are created or attached with ntpd's permissions (units 0-1
// 0600, 2-3 0666). A device that cannot be had is reported as Unavailable
// at every start() and retried every kRetryInterval (a root-only segment
// cannot be had after the privilege drop: it stays Unavailable, named).
// SHM segments are read every kShmReadInterval; each new sample is taken
// once (valid cleared after the read, as ntpd does). A PPS device is opened
// while privileged too (turning its edge's capture on needs CAP_SYS_TIME)
// and read without waiting (time_pps_fetch, zero timeout) just after each
// edge is due; kernel::PpsBridgeCore decides which edges are new and usable
// and when to look again, as it does for the [[pps]] bridges. A PTP hardware
// clock (/dev/ptpN) is opened read-only (PTP_CLOCK_GETCAPS tells a PHC from
// any other file) and read every kPhcReadInterval with the best of the
// PTP_SYS_OFFSET* ioctls it answers (refclock/phc_reading.hpp); an ioctl a
// driver does not have (EOPNOTSUPP) is not tried again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "kernel/pps_bridge.hpp"
#include "kernel/pps_device.hpp"
#include "refclock/refclock_reading.hpp"
#include "refclock/shm_segment.hpp"

namespace nanotime::daemon {

inline constexpr std::chrono::milliseconds kShmReadInterval{250};
inline constexpr std::chrono::seconds kRetryInterval{64};
inline constexpr std::chrono::seconds kPhcReadInterval{1};

class RefclockDevices {
  public:
    using OutcomeFn = std::function<void(size_t index, const refclock::ParseOutcome& outcome)>;

    RefclockDevices(const std::vector<config::RefclockEntry>& refclocks, io::EventLoop& loop,
                    io::RateLimitedLog& log, OutcomeFn on_outcome);
    ~RefclockDevices();
    RefclockDevices(const RefclockDevices&) = delete;
    RefclockDevices& operator=(const RefclockDevices&) = delete;

    // Phase 1 (privileged): sockets bound, segments attached.
    void open();
    // Phase 2: reading starts; devices that failed are reported and retried.
    void start();

  private:
    // Devices that failed to open reported to the core (as refused readings).
    void report_unavailable();
    struct Device {
        config::RefclockEntry entry;
        int fd = -1;                                    // sock
        uint64_t watch = 0;                             // sock
        volatile refclock::ShmTime* segment = nullptr;  // shm
        std::unique_ptr<kernel::PpsDevice> pps;         // pps
        kernel::PpsBridgeCore pps_edges;                // pps: which edges are new
        uint64_t pps_timer = 0;                         // pps: the next fetch
        int phc_fd = -1;                                // phc
        int phc_method = 0;                             // phc: the first ioctl to try
        std::string error;                              // why it is not open ("" when it is)
    };

    void open_device(Device& d);
    void open_sock(Device& d);
    void open_shm(Device& d);
    void open_pps(Device& d);
    void open_phc(Device& d);
    void read_phcs();
    refclock::ParseOutcome read_phc(Device& d);
    void schedule_phc_read();
    void read_pps(size_t index);
    void schedule_pps_read(size_t index, std::chrono::nanoseconds after);
    void close_device(Device& d);
    void read_sock(size_t index);
    void read_segments();
    void schedule_shm_read();
    void schedule_retry();

    io::EventLoop& loop_;
    io::RateLimitedLog& log_;
    OutcomeFn on_outcome_;
    std::vector<Device> devices_;
    uint64_t shm_timer_ = 0;
    uint64_t phc_timer_ = 0;
    uint64_t retry_timer_ = 0;
};

}  // namespace nanotime::daemon
