// pps_bridge.hpp - deciding what to inject from a Linux /dev/ppsN (sans-IO).
//
// A bridge carries the edges of an existing Linux PPS device (pps-ldisc,
// pps-gpio, a PHC's PPS output) into a nanoclock_pps "bridge" source: the
// daemon reads the device with RFC 2783 time_pps_fetch (never blocking) and
// injects each new edge's CLOCK_REALTIME stamp over netlink; the module maps
// the stamp onto the PCC and feeds hardpps. The kernel refuses stamps in the
// future, older than 2 s, or not after the previous one (it would change
// nothing anyway); this core filters those out first so the counters say
// why an edge was not used, and decides when to look again.
//
// Scheduling: /dev/ppsN cannot be waited on with poll() (it always reports
// readable), and a blocking fetch would stall the event loop. Edges come once
// a second, so the core asks to be called again just after the next one is
// due (last edge + 1 s + kFetchLag): about one wake-up per second while
// locked. Until an edge has been seen, and while an expected edge is late,
// it looks every kSearchPeriod, and every kLostPeriod once the signal is gone.
#pragma once

#include <time.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nanotime::kernel {

// One time_pps_fetch result, for the captured edge (assert or clear).
struct PpsFetch {
    uint32_t sequence = 0;  // edges counted by the device; 0: none yet
    timespec stamp{};       // CLOCK_REALTIME of the last edge
};

struct PpsBridgeCounters {
    uint64_t fetches = 0;
    uint64_t fetch_errors = 0;
    uint64_t edges = 0;               // new sequence numbers seen
    uint64_t missed = 0;              // sequence numbers skipped between fetches
    uint64_t injected = 0;            // accepted by the kernel
    uint64_t inject_errors = 0;       // refused by the kernel (last_error says why)
    uint64_t stale = 0;               // older than kMaxAge when read
    uint64_t future = 0;              // after the time it was read
    uint64_t not_after_previous = 0;  // not later than the last injected stamp
};

class PpsBridgeCore {
  public:
    // @offset_ns: how long after the true second the device's edge comes
    // (cable and receiver delay); subtracted from every stamp before use.
    explicit PpsBridgeCore(int64_t offset_ns = 0) : offset_ns_(offset_ns) {}

    // Stamps older than this are not injected (the kernel's limit is 2 s;
    // the margin covers a late wake-up between fetch and inject).
    static constexpr int64_t kMaxAgeNs = 1'500'000'000;
    // How long after an edge is due to look for it (the device's stamp is
    // taken in its interrupt; this only bounds how late we read it).
    static constexpr int64_t kFetchLagNs = 20'000'000;
    // Polling period while no edge is expected at a known time.
    static constexpr int64_t kSearchPeriodNs = 100'000'000;
    // ... and once no edge has come for 2 s (signal lost).
    static constexpr int64_t kLostPeriodNs = 500'000'000;

    // A fetch succeeded at @now (CLOCK_REALTIME, read right after it).
    // Returns the stamp to inject (offset applied), if the edge is new and
    // usable.
    std::optional<timespec> on_fetch(const PpsFetch& fetch, const timespec& now);
    void on_fetch_error(const std::string& reason);
    // The kernel's answer to the inject of the stamp on_fetch returned:
    // 0 or -errno with the kernel's extack message.
    void on_inject_result(int error, const std::string& message);

    // Delay (ns) from @now until the next fetch.
    int64_t next_fetch_delay_ns(const timespec& now) const;

    const PpsBridgeCounters& counters() const { return counters_; }
    const std::string& last_error() const { return last_error_; }
    std::optional<timespec> last_injected() const { return last_injected_; }
    // An edge was read within the last 2 s.
    bool signal(const timespec& now) const;

  private:
    int64_t offset_ns_;
    PpsBridgeCounters counters_;
    std::optional<uint32_t> last_sequence_;
    std::optional<timespec> last_edge_;  // newest stamp read (used or not)
    std::optional<timespec> last_injected_;
    std::optional<timespec> pending_;  // handed out by on_fetch, not yet answered
    std::string last_error_;
};

// @a - @b in ns.
int64_t timespec_diff_ns(const timespec& a, const timespec& b);

}  // namespace nanotime::kernel
