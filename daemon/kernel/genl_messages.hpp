// genl_messages.hpp - the nanoclock modules' generic-netlink messages, decoded.
//
// Two families (uapi/linux/nanoclock.h):
//   "nanoclock"      GET_CLOCK replies and EVENT multicasts: one clock's state
//   "nanoclock_pps"  GET_SOURCE / SET_SOURCE replies and EDGE multicasts: one
//                    PPS source's binding and statistics
// These functions are pure: they get the bytes after the nlmsghdr (the
// genlmsghdr and the attributes), check them against a policy and fill a
// struct in the units the kernel uses, so the socket code (kernel_channel)
// stays thin and the decoders can be fuzzed. A message that breaks the
// policy or lacks a required attribute is refused with a reason; it never
// yields a half-filled struct.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace nanotime::kernel {

// NANOCLOCK_CMD_GET_CLOCK reply / NANOCLOCK_CMD_EVENT: timex-like state.
struct ClockState {
    uint32_t index = 0;       // N of /dev/nanoclockN
    std::string name;         // "nanoclockN"
    int32_t ptp_index = -1;   // M of /dev/ptpM, -1 none
    int64_t time_sec = 0;     // clock time at pcc_ns, s
    uint32_t time_nsec = 0;   // ns part
    uint64_t pcc_ns = 0;      // CLOCK_MONOTONIC_RAW of the snapshot, ns
    int32_t state = 0;        // TIME_*
    uint32_t status = 0;      // STA_*
    int32_t tai = 0;          // TAI - UTC, s
    int64_t maxerror_us = 0;  // us
    int64_t esterror_us = 0;  // us
    int64_t offset_ns = 0;    // ns
    int64_t freq = 0;         // ppm << 16
    int64_t constant = 0;     // log2 s
    int64_t precision_ns = 0;
    int64_t tolerance = 0;  // ppm << 16
    int64_t tick_us = 0;
    int64_t ppsfreq = 0;    // ppm << 16
    int64_t jitter_ns = 0;  // PPS jitter, ns
    int32_t shift = 0;      // PPS interval, log2 s
    int64_t stabil = 0;     // ppm << 16
    int64_t jitcnt = 0;
    int64_t calcnt = 0;
    int64_t errcnt = 0;
    int64_t stbcnt = 0;
    std::optional<uint32_t> event;  // enum nanoclock_event, EVENT messages only
};

// NANOCLOCK_PPS_CMD_GET_SOURCE reply / EDGE multicast.
struct PpsSourceState {
    uint32_t index = 0;
    std::string name;                   // "sim0", "bridge0", ...
    std::string kind;                   // "sim", "gpio", "ldisc", "bridge"
    std::optional<uint32_t> pps_index;  // N of its /dev/ppsN
    int32_t clock = -1;                 // bound /dev/nanoclockN, -1 none
    bool pps_time = false;              // bound clock's STA_PPSTIME
    bool pps_freq = false;              // bound clock's STA_PPSFREQ
    uint32_t clock_status = 0;          // STA_* after the last fed edge
    uint64_t edges = 0;
    uint64_t fed = 0;       // given to hardpps
    uint64_t rejected = 0;  // left STA_PPSJITTER
    uint64_t popcorn = 0;
    uint64_t gaps = 0;          // intervals over 1.5 s
    uint64_t last_pcc_ns = 0;   // PCC of the last edge
    int64_t interval_ns = 0;    // PCC interval before it
    int64_t phase_ns = 0;       // clock phase at the last fed edge
    int64_t jitter_ns = 0;      // EWMA |phase step|
    int64_t wander_ns = 0;      // EWMA |interval step|
    uint64_t cost_last_ns = 0;  // IRQ entry to hardpps return
    uint64_t cost_min_ns = 0;
    uint64_t cost_mean_ns = 0;
    uint64_t cost_max_ns = 0;
    std::optional<uint64_t> inject_pcc_ns;  // bridge: PCC of the last injected stamp
};

// @payload: the message after its nlmsghdr, 4-byte aligned (netlink buffers
// are). @error gets the reason on failure.
std::optional<ClockState> decode_clock(std::span<const uint8_t> payload, std::string* error);
std::optional<PpsSourceState> decode_pps_source(std::span<const uint8_t> payload,
                                                std::string* error);

// The generic-netlink command of a payload (its genlmsghdr), nothing if short.
std::optional<uint8_t> genl_command(std::span<const uint8_t> payload);

// "status", "leap-armed", ... for enum nanoclock_event; "event-N" if unknown.
std::string clock_event_name(uint32_t event);

// The NLMSGERR_ATTR_MSG text of an extended ACK: @tlvs are the attributes
// after struct nlmsgerr (NETLINK_CAP_ACK set, so no echoed request). Empty
// when absent or malformed.
std::string extack_message(std::span<const uint8_t> tlvs);

}  // namespace nanotime::kernel
