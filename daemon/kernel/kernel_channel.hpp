// kernel_channel.hpp - nanotimed's generic-netlink link to the nanoclock modules.
//
// Through libnl-genl-3, two sockets:
//   requests  non-blocking: GET_CLOCK, the PPS source dump, SET_SOURCE
//             (binding), INJECT (bridge), family look-ups. Made inline from
//             the event loop, and they never wait: a generic-netlink request
//             is handled inside our sendmsg() (netlink_unicast_kernel runs
//             the family's doit, which queues its reply and the ACK on our
//             socket before sendmsg returns; a dump goes on inside each
//             recvmsg), so everything the kernel will ever answer is queued
//             when send returns. The loop is held only for the kernel's own
//             work, microseconds, as with an ioctl; a reply not queued by
//             then never comes, and the request fails at once (-ENOMSG)
//             instead of waiting. Errors come back as -errno plus the
//             module's extack message (NETLINK_EXT_ACK).
//   events    non-blocking, subscribed to both families' "events" multicast
//             groups; the event loop watches its fd and calls drain_events().
// Either family may be missing (module not loaded, or loaded later):
// refresh_families() looks again and subscribes to what it finds.
#pragma once

#include <time.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernel/genl_messages.hpp"

struct nl_sock;

namespace nanotime::kernel {

// The outcome of a request: error 0, or -errno with the kernel's reason.
struct RequestStatus {
    int error = 0;
    std::string message;  // extack text, or strerror when the kernel gave none
    explicit operator bool() const { return error == 0; }
};

template <typename T>
struct RequestResult {
    RequestStatus status;
    T value{};
};

struct KernelEvent {
    std::optional<ClockState> clock;     // NANOCLOCK_CMD_EVENT
    std::optional<PpsSourceState> edge;  // NANOCLOCK_PPS_CMD_EDGE
};

struct KernelChannelCounters {
    uint64_t events = 0;
    uint64_t events_malformed = 0;
    uint64_t events_lost = 0;  // socket overruns (ENOBUFS): events dropped by the kernel
    uint64_t requests = 0;
    uint64_t request_errors = 0;
};

// Where requests go: the kernel and the families found by name, unless a
// test points them at a userspace netlink socket standing in for the kernel.
struct KernelChannelTarget {
    uint32_t peer_port = 0;  // netlink port id of the peer; 0: the kernel
    int clock_family = -1;   // family id used for clock requests; -1: resolve "nanoclock"
    int pps_family = -1;     // likewise for "nanoclock_pps"
};

class KernelChannel {
  public:
    // Opens both sockets and resolves the families. Throws
    // std::system_error when netlink itself is unusable; missing families
    // are not an error.
    explicit KernelChannel(const KernelChannelTarget& target = {});
    ~KernelChannel();
    KernelChannel(const KernelChannel&) = delete;
    KernelChannel& operator=(const KernelChannel&) = delete;

    // Resolves whichever family is still missing and joins its events group.
    // Returns true when something new was found.
    bool refresh_families();
    bool has_clock_family() const { return clock_family_ >= 0; }
    bool has_pps_family() const { return pps_family_ >= 0; }
    // Families whose events group could not be joined ("" when none).
    const std::string& events_missing() const { return events_missing_; }

    RequestResult<ClockState> get_clock(uint32_t index);
    RequestResult<std::vector<PpsSourceState>> pps_sources();
    // SET_SOURCE: bind @source to /dev/nanoclock@clock and set the clock's
    // STA_PPSTIME / STA_PPSFREQ; @clock -1 unbinds (the flags are not sent:
    // clear them with a bound call first). Needs CAP_SYS_TIME.
    RequestResult<PpsSourceState> bind_pps_source(uint32_t source, int32_t clock, bool pps_time,
                                                  bool pps_freq);
    // INJECT a CLOCK_REALTIME edge stamp into bridge @source. Needs CAP_SYS_TIME.
    RequestStatus inject(uint32_t source, const timespec& realtime_stamp);

    // The events socket, for the event loop to watch.
    int event_fd() const;
    // Reads every queued event without blocking and hands each to @fn.
    void drain_events(const std::function<void(const KernelEvent&)>& fn);

    const KernelChannelCounters& counters() const { return counters_; }

  private:
    struct Request;
    enum class Family { Clock, Pps };
    // Makes sure @family is known (resolving it again if not) and starts
    // @rq's message; an error when the family is missing.
    std::optional<RequestStatus> begin(Request& rq, Family family, uint8_t command, int flags);
    RequestStatus transact(Request& request);
    // transact() for a doit with one reply, decoded by @decode; a reply that
    // does not decode is -EPROTO naming @what.
    template <typename T>
    RequestResult<T> transact_one(Request& request,
                                  std::optional<T> (*decode)(std::span<const uint8_t>,
                                                             std::string*),
                                  const char* what);

    nl_sock* requests_ = nullptr;
    nl_sock* events_ = nullptr;
    int clock_family_ = -1;
    int pps_family_ = -1;
    std::string events_missing_;
    KernelChannelCounters counters_;
};

}  // namespace nanotime::kernel
