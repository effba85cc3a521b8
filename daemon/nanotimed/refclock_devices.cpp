// refclock_devices.cpp - the refclock drivers' sockets and segments (see
// refclock_devices.hpp).
#include "nanotimed/refclock_devices.hpp"

#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>
#include <vector>

#include "refclock/phc_reading.hpp"
#include "refclock/sock_sample.hpp"

namespace nanotime::daemon {
namespace {

// Datagrams read per readiness: gpsd sends one a second per device.
constexpr int kMaxDatagramsPerWake = 16;

// The PHC ioctls, best first (Device::phc_method counts from here).
enum PhcMethod { kPhcPrecise = 0, kPhcExtended = 1, kPhcBasic = 2, kPhcMethods = 3 };

refclock::PhcStamp phc_stamp(const ptp_clock_time& t) {
    return refclock::PhcStamp{t.sec, t.nsec};
}

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

std::string describe(const config::RefclockEntry& e) {
    return "refclock " + e.refid + " (" + config::to_string(e.driver) + " " +
           (e.driver == config::RefclockDriver::Shm ? "unit " + std::to_string(e.unit) : e.path) +
           ")";
}

timespec realtime_now() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return now;
}

}  // namespace

RefclockDevices::RefclockDevices(const std::vector<config::RefclockEntry>& refclocks,
                                 io::EventLoop& loop, io::RateLimitedLog& log, OutcomeFn on_outcome)
    : loop_(loop), log_(log), on_outcome_(std::move(on_outcome)) {
    for (const config::RefclockEntry& e : refclocks) {
        Device d;
        d.entry = e;
        devices_.push_back(std::move(d));
    }
}

RefclockDevices::~RefclockDevices() {
    loop_.cancel_timer(shm_timer_);
    loop_.cancel_timer(phc_timer_);
    loop_.cancel_timer(retry_timer_);
    for (Device& d : devices_) close_device(d);
}

void RefclockDevices::open() {
    for (Device& d : devices_) open_device(d);
}

void RefclockDevices::open_device(Device& d) {
    d.error.clear();
    switch (d.entry.driver) {
        case config::RefclockDriver::Sock:
            open_sock(d);
            break;
        case config::RefclockDriver::Shm:
            open_shm(d);
            break;
        case config::RefclockDriver::Pps:
            open_pps(d);
            break;
        case config::RefclockDriver::Phc:
            open_phc(d);
            break;
    }
    if (!d.error.empty()) log_.warn(io::LogClass::SourceState, describe(d.entry) + ": " + d.error);
}

void RefclockDevices::open_sock(Device& d) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, d.entry.path.c_str(), d.entry.path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        d.error = errno_text("socket");
        return;
    }
    // A socket file left by an earlier run (or a crash) would make bind fail.
    struct stat st {};
    if (::lstat(d.entry.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        ::unlink(d.entry.path.c_str());
    const mode_t old_mask = ::umask(0177);  // the file is made 0600
    const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    ::umask(old_mask);
    if (bound != 0) {
        d.error = errno_text("bind " + d.entry.path);
        ::close(fd);
        return;
    }
    d.fd = fd;
    const size_t index = static_cast<size_t>(&d - devices_.data());
    d.watch = loop_.watch_fd(fd, [this, index] { read_sock(index); });
}

void RefclockDevices::open_shm(Device& d) {
    const key_t key = refclock::shm_key(d.entry.unit);
    const int id =
        ::shmget(key, sizeof(refclock::ShmTime), IPC_CREAT | refclock::shm_mode(d.entry.unit));
    if (id < 0) {
        // EINVAL: a segment with this key exists and is smaller than struct
        // shmTime (another program's layout); EACCES: not ours to read.
        d.error = errno_text("shmget key 0x" + [&] {
            char hex[16];
            std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(key));
            return std::string(hex);
        }());
        return;
    }
    void* at = ::shmat(id, nullptr, 0);
    // shmat(2) fails with (void*)-1, which is all ones.
    if (reinterpret_cast<uintptr_t>(at) == UINTPTR_MAX) {
        d.error = errno_text("shmat");
        return;
    }
    d.segment = static_cast<volatile refclock::ShmTime*>(at);
}

void RefclockDevices::open_pps(Device& d) {
    try {
        d.pps = std::make_unique<kernel::PpsDevice>(
            d.entry.path, d.entry.edge == config::PpsEdgeKind::Assert ? kernel::PpsEdge::Assert
                                                                      : kernel::PpsEdge::Clear);
    } catch (const std::system_error& e) {
        d.error = e.what();
    }
}

void RefclockDevices::open_phc(Device& d) {
    const int fd = ::open(d.entry.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        d.error = errno_text("cannot open " + d.entry.path);
        return;
    }
    ptp_clock_caps caps{};
    if (::ioctl(fd, PTP_CLOCK_GETCAPS, &caps) != 0) {
        d.error = d.entry.path +
                  ": not a PTP hardware clock (PTP_CLOCK_GETCAPS: " + std::strerror(errno) + ")";
        ::close(fd);
        return;
    }
    d.phc_fd = fd;
    d.phc_method = d.entry.nocrossts ? kPhcExtended : kPhcPrecise;
}

refclock::ParseOutcome RefclockDevices::read_phc(Device& d) {
    int error = 0;  // errno of the last ioctl that failed
    for (; d.phc_method < kPhcMethods; ++d.phc_method) {
        std::vector<refclock::PhcTriplet> triplets;
        int rc = -1;
        if (d.phc_method == kPhcPrecise) {
            ptp_sys_offset_precise p{};
            rc = ::ioctl(d.phc_fd, PTP_SYS_OFFSET_PRECISE, &p);
            if (rc != 0) error = errno;
            // One instant on both clocks: the system stamp brackets itself.
            if (rc == 0)
                triplets.push_back(
                    {phc_stamp(p.sys_realtime), phc_stamp(p.device), phc_stamp(p.sys_realtime)});
        } else if (d.phc_method == kPhcExtended) {
            ptp_sys_offset_extended e{};
            e.n_samples = refclock::kPhcSamplesPerReading;
            rc = ::ioctl(d.phc_fd, PTP_SYS_OFFSET_EXTENDED, &e);
            if (rc != 0) error = errno;
            for (unsigned i = 0; rc == 0 && i < e.n_samples && i < PTP_MAX_SAMPLES; ++i)
                triplets.push_back(
                    {phc_stamp(e.ts[i][0]), phc_stamp(e.ts[i][1]), phc_stamp(e.ts[i][2])});
        } else {
            ptp_sys_offset b{};
            b.n_samples = refclock::kPhcSamplesPerReading;
            rc = ::ioctl(d.phc_fd, PTP_SYS_OFFSET, &b);
            if (rc != 0) error = errno;
            if (rc == 0) {
                std::vector<refclock::PhcStamp> stamps;
                for (unsigned i = 0; i < 2 * std::min(b.n_samples, unsigned{PTP_MAX_SAMPLES}) + 1;
                     ++i)
                    stamps.push_back(phc_stamp(b.ts[i]));
                triplets = refclock::phc_triplets_from_interleaved(stamps);
            }
        }
        if (rc == 0) return refclock::phc_reading(triplets);
        // The driver lacks this one (EOPNOTSUPP; older kernels: EINVAL,
        // ENOTTY): the next one, now and from now on.
        if (error != EOPNOTSUPP && error != EINVAL && error != ENOTTY) break;
    }
    if (d.phc_method >= kPhcMethods) {
        d.phc_method = kPhcMethods - 1;  // keep asking the basic one: say why each time
        return refclock::Refusal{ntp::RefclockReject::Unavailable,
                                 d.entry.path + ": no PTP_SYS_OFFSET ioctl works"};
    }
    return refclock::Refusal{ntp::RefclockReject::Unavailable,
                             d.entry.path + ": PTP_SYS_OFFSET ioctl: " + std::strerror(error)};
}

void RefclockDevices::read_phcs() {
    for (size_t i = 0; i < devices_.size(); ++i)
        if (devices_[i].phc_fd >= 0) on_outcome_(i, read_phc(devices_[i]));
}

void RefclockDevices::schedule_phc_read() {
    bool any = false;
    for (const Device& d : devices_) any = any || d.entry.driver == config::RefclockDriver::Phc;
    if (!any) return;
    phc_timer_ = loop_.add_timer_after(kPhcReadInterval, [this] {
        read_phcs();
        schedule_phc_read();
    });
}

void RefclockDevices::read_pps(size_t index) {
    Device& d = devices_[index];
    d.pps_timer = 0;
    if (!d.pps) return;
    kernel::PpsFetch fetch;
    const int error = d.pps->fetch(fetch);
    const timespec now = realtime_now();
    if (error < 0) {
        const std::string reason = "time_pps_fetch: " + std::string(std::strerror(-error));
        d.pps_edges.on_fetch_error(reason);
        on_outcome_(index, refclock::Refusal{ntp::RefclockReject::Unavailable, reason});
    } else if (const std::optional<timespec> edge = d.pps_edges.on_fetch(fetch, now)) {
        // Taken: the next edge must come after this one.
        d.pps_edges.on_inject_result(0, "");
        on_outcome_(index, refclock::Pulse{*edge});
    }
    schedule_pps_read(index, std::chrono::nanoseconds(d.pps_edges.next_fetch_delay_ns(now)));
}

void RefclockDevices::schedule_pps_read(size_t index, std::chrono::nanoseconds after) {
    Device& d = devices_[index];
    loop_.cancel_timer(d.pps_timer);
    d.pps_timer = loop_.add_timer_after(after, [this, index] { read_pps(index); });
}

void RefclockDevices::close_device(Device& d) {
    loop_.cancel_timer(d.pps_timer);
    d.pps_timer = 0;
    d.pps.reset();
    if (d.phc_fd >= 0) ::close(d.phc_fd);
    d.phc_fd = -1;
    if (d.watch != 0) loop_.unwatch_fd(d.watch);
    d.watch = 0;
    if (d.fd >= 0) {
        ::close(d.fd);
        ::unlink(d.entry.path.c_str());
    }
    d.fd = -1;
    if (d.segment != nullptr) ::shmdt(const_cast<refclock::ShmTime*>(d.segment));
    d.segment = nullptr;
}

void RefclockDevices::start() {
    report_unavailable();
    for (size_t i = 0; i < devices_.size(); ++i)
        if (devices_[i].pps) schedule_pps_read(i, std::chrono::nanoseconds(0));
    schedule_shm_read();
    schedule_phc_read();
    schedule_retry();
}

void RefclockDevices::report_unavailable() {
    for (size_t i = 0; i < devices_.size(); ++i) {
        if (!devices_[i].error.empty())
            on_outcome_(i, refclock::Refusal{ntp::RefclockReject::Unavailable, devices_[i].error});
    }
}

void RefclockDevices::read_sock(size_t index) {
    Device& d = devices_[index];
    std::array<uint8_t, 256> buffer{};
    for (int i = 0; i < kMaxDatagramsPerWake && d.fd >= 0; ++i) {
        // MSG_TRUNC: the datagram's real length, so an oversized one is named.
        const ssize_t n = ::recv(d.fd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_.warn(io::LogClass::Io, describe(d.entry) + ": " + errno_text("recv"));
            return;
        }
        const size_t length = static_cast<size_t>(n);
        if (length > buffer.size()) {
            on_outcome_(index, refclock::Refusal{ntp::RefclockReject::WrongSize,
                                                 std::to_string(length) + " bytes"});
            continue;
        }
        on_outcome_(index, refclock::parse_sock_sample(std::span(buffer.data(), length)));
    }
}

void RefclockDevices::read_segments() {
    for (size_t i = 0; i < devices_.size(); ++i) {
        volatile refclock::ShmTime* seg = devices_[i].segment;
        if (seg == nullptr) continue;
        // ntpd's protocol: note count, copy, note count again (mode 1 only
        // trusts a copy the writer did not touch meanwhile), clear valid.
        refclock::ShmTime copy;
        const int32_t count_before = seg->count;
        std::atomic_thread_fence(std::memory_order_acquire);
        copy.mode = seg->mode;
        copy.clock_sec = seg->clock_sec;
        copy.clock_usec = seg->clock_usec;
        copy.receive_sec = seg->receive_sec;
        copy.receive_usec = seg->receive_usec;
        copy.leap = seg->leap;
        copy.precision = seg->precision;
        copy.nsamples = seg->nsamples;
        copy.valid = seg->valid;
        copy.clock_nsec = seg->clock_nsec;
        copy.receive_nsec = seg->receive_nsec;
        std::atomic_thread_fence(std::memory_order_acquire);
        const int32_t count_after = seg->count;
        copy.count = count_before;
        if (copy.valid == 0) continue;  // nothing new since the last read
        seg->valid = 0;
        on_outcome_(i, refclock::read_shm_copy(copy, count_after));
    }
}

void RefclockDevices::schedule_shm_read() {
    bool any = false;
    for (const Device& d : devices_) any = any || d.entry.driver == config::RefclockDriver::Shm;
    if (!any) return;
    shm_timer_ = loop_.add_timer_after(kShmReadInterval, [this] {
        read_segments();
        schedule_shm_read();
    });
}

void RefclockDevices::schedule_retry() {
    bool any = false;
    for (const Device& d : devices_)
        any = any || (!d.error.empty() && d.entry.driver != config::RefclockDriver::Sock);
    if (!any) return;
    retry_timer_ = loop_.add_timer_after(kRetryInterval, [this] {
        // Segments and PPS devices (a module loaded later, capture turned
        // on by someone else); a socket is bound while privileged or never
        // (its path's permissions do not change by waiting).
        for (size_t i = 0; i < devices_.size(); ++i) {
            Device& d = devices_[i];
            if (d.error.empty() || d.entry.driver == config::RefclockDriver::Sock) continue;
            open_device(d);
            if (d.pps) schedule_pps_read(i, std::chrono::nanoseconds(0));
        }
        report_unavailable();
        schedule_retry();
    });
}

}  // namespace nanotime::daemon
