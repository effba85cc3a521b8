#include "kernel/genl_messages.hpp"

#include <linux/genetlink.h>
#include <linux/nanoclock.h>
#include <linux/netlink.h>
#include <netlink/attr.h>

#include <array>
#include <cstring>

namespace nanotime::kernel {
namespace {

// One attribute's expected type and exact payload size (0: a NUL-terminated
// string of 1..maxlen bytes).
struct AttrSpec {
    uint16_t type;
    uint16_t size;
};

constexpr uint16_t kMaxName = 64;  // names are "nanoclockN", "bridge0", "sim": short

template <size_t N>
std::array<nla_policy, N> make_policy(const std::array<AttrSpec, N>& spec) {
    std::array<nla_policy, N> p{};
    for (size_t i = 0; i < N; ++i) {
        p[i].type = spec[i].type;
        if (spec[i].type == NLA_STRING) {
            p[i].minlen = 1;
            p[i].maxlen = kMaxName;
        } else if (spec[i].type != NLA_UNSPEC) {
            p[i].minlen = spec[i].size;
            p[i].maxlen = spec[i].size;
        }
    }
    return p;
}

constexpr AttrSpec kU8{NLA_U8, 1}, kU32{NLA_U32, 4}, kS32{NLA_S32, 4}, kU64{NLA_U64, 8},
    kS64{NLA_S64, 8}, kStr{NLA_STRING, 0}, kAny{NLA_UNSPEC, 0};

std::array<AttrSpec, NANOCLOCK_A_MAX + 1> clock_spec() {
    std::array<AttrSpec, NANOCLOCK_A_MAX + 1> s;
    s.fill(kAny);
    s[NANOCLOCK_A_INDEX] = kU32;
    s[NANOCLOCK_A_NAME] = kStr;
    s[NANOCLOCK_A_PTP_INDEX] = kS32;
    s[NANOCLOCK_A_TIME_SEC] = kS64;
    s[NANOCLOCK_A_TIME_NSEC] = kU32;
    s[NANOCLOCK_A_PCC_NS] = kU64;
    s[NANOCLOCK_A_STATE] = kS32;
    s[NANOCLOCK_A_STATUS] = kU32;
    s[NANOCLOCK_A_TAI] = kS32;
    for (int a :
         {NANOCLOCK_A_MAXERROR, NANOCLOCK_A_ESTERROR, NANOCLOCK_A_OFFSET, NANOCLOCK_A_FREQ,
          NANOCLOCK_A_CONSTANT, NANOCLOCK_A_PRECISION, NANOCLOCK_A_TOLERANCE, NANOCLOCK_A_TICK,
          NANOCLOCK_A_PPSFREQ, NANOCLOCK_A_JITTER, NANOCLOCK_A_STABIL, NANOCLOCK_A_JITCNT,
          NANOCLOCK_A_CALCNT, NANOCLOCK_A_ERRCNT, NANOCLOCK_A_STBCNT, NANOCLOCK_A_SETOFFSET})
        s[a] = kS64;
    s[NANOCLOCK_A_SHIFT] = kS32;
    s[NANOCLOCK_A_MODES] = kU32;
    s[NANOCLOCK_A_EVENT] = kU32;
    return s;
}

std::array<AttrSpec, NANOCLOCK_PPS_A_MAX + 1> pps_spec() {
    std::array<AttrSpec, NANOCLOCK_PPS_A_MAX + 1> s;
    s.fill(kAny);
    s[NANOCLOCK_PPS_A_SOURCE] = kU32;
    s[NANOCLOCK_PPS_A_NAME] = kStr;
    s[NANOCLOCK_PPS_A_KIND] = kStr;
    s[NANOCLOCK_PPS_A_PPS_INDEX] = kU32;
    s[NANOCLOCK_PPS_A_CLOCK] = kS32;
    s[NANOCLOCK_PPS_A_PPSTIME] = kU8;
    s[NANOCLOCK_PPS_A_PPSFREQ] = kU8;
    s[NANOCLOCK_PPS_A_CLOCK_STATUS] = kU32;
    for (int a :
         {NANOCLOCK_PPS_A_EDGES, NANOCLOCK_PPS_A_FED, NANOCLOCK_PPS_A_REJECTED,
          NANOCLOCK_PPS_A_POPCORN, NANOCLOCK_PPS_A_GAPS, NANOCLOCK_PPS_A_LAST_PCC,
          NANOCLOCK_PPS_A_COST_LAST, NANOCLOCK_PPS_A_COST_MAX, NANOCLOCK_PPS_A_COST_MEAN,
          NANOCLOCK_PPS_A_COST_MIN, NANOCLOCK_PPS_A_INJECT_PCC, NANOCLOCK_PPS_A_SIM_PCC,
          NANOCLOCK_PPS_A_SIM_SPIKES, NANOCLOCK_PPS_A_SIM_DROPPED, NANOCLOCK_PPS_A_SIM_LATENCY_MAX})
        s[a] = kU64;
    for (int a : {NANOCLOCK_PPS_A_INTERVAL, NANOCLOCK_PPS_A_PHASE, NANOCLOCK_PPS_A_JITTER,
                  NANOCLOCK_PPS_A_WANDER, NANOCLOCK_PPS_A_SIM_FREQ, NANOCLOCK_PPS_A_SIM_PHASE,
                  NANOCLOCK_PPS_A_SIM_SPIKE, NANOCLOCK_PPS_A_SIM_ERROR, NANOCLOCK_PPS_A_SIM_REF_SEC,
                  NANOCLOCK_PPS_A_INJECT_SEC})
        s[a] = kS64;
    for (int a :
         {NANOCLOCK_PPS_A_SIM_JITTER, NANOCLOCK_PPS_A_SIM_SPIKE_PPM, NANOCLOCK_PPS_A_SIM_DROP_PPM,
          NANOCLOCK_PPS_A_SIM_OUTAGE, NANOCLOCK_PPS_A_SIM_REF_NSEC, NANOCLOCK_PPS_A_INJECT_NSEC})
        s[a] = kU32;
    s[NANOCLOCK_PPS_A_INJECT_CLOCKID] = kS32;
    return s;
}

// Splits @payload into its attributes by @policy; @tb gets one pointer per
// type (null when absent).
template <size_t N>
bool parse(std::span<const uint8_t> payload, std::array<nla_policy, N>& policy,
           std::array<nlattr*, N>& tb, std::string* error) {
    if (payload.size() < GENL_HDRLEN) {
        if (error) *error = "message shorter than its generic-netlink header";
        return false;
    }
    if (reinterpret_cast<uintptr_t>(payload.data()) % NLA_ALIGNTO != 0) {
        if (error) *error = "message not 4-byte aligned";
        return false;
    }
    tb.fill(nullptr);
    // libnl takes non-const pointers but only reads.
    auto* head = reinterpret_cast<nlattr*>(const_cast<uint8_t*>(payload.data()) + GENL_HDRLEN);
    const int len = static_cast<int>(payload.size() - GENL_HDRLEN);
    const int r = nla_parse(tb.data(), static_cast<int>(N - 1), head, len, policy.data());
    if (r < 0) {
        if (error) *error = "attribute breaks the family's policy (wrong size or type)";
        return false;
    }
    return true;
}

bool require(nlattr* const* tb, std::initializer_list<int> attrs, const char* what,
             std::string* error) {
    for (int a : attrs) {
        if (tb[a] == nullptr) {
            if (error) *error = std::string(what) + " lacks attribute " + std::to_string(a);
            return false;
        }
    }
    return true;
}

template <typename T, typename Get>
void get_if(nlattr* const* tb, int attr, T& out, Get get) {
    if (tb[attr] != nullptr) out = static_cast<T>(get(tb[attr]));
}

}  // namespace

std::optional<uint8_t> genl_command(std::span<const uint8_t> payload) {
    if (payload.size() < GENL_HDRLEN) return std::nullopt;
    genlmsghdr h;
    std::memcpy(&h, payload.data(), sizeof h);
    return h.cmd;
}

std::optional<ClockState> decode_clock(std::span<const uint8_t> payload, std::string* error) {
    static const auto spec = clock_spec();
    auto policy = make_policy(spec);
    std::array<nlattr*, NANOCLOCK_A_MAX + 1> tb;
    if (!parse(payload, policy, tb, error)) return std::nullopt;
    if (!require(tb.data(), {NANOCLOCK_A_INDEX, NANOCLOCK_A_STATE, NANOCLOCK_A_STATUS},
                 "clock message", error))
        return std::nullopt;
    ClockState c;
    c.index = nla_get_u32(tb[NANOCLOCK_A_INDEX]);
    if (tb[NANOCLOCK_A_NAME]) c.name = nla_get_string(tb[NANOCLOCK_A_NAME]);
    get_if(tb.data(), NANOCLOCK_A_PTP_INDEX, c.ptp_index, nla_get_s32);
    get_if(tb.data(), NANOCLOCK_A_TIME_SEC, c.time_sec, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_TIME_NSEC, c.time_nsec, nla_get_u32);
    get_if(tb.data(), NANOCLOCK_A_PCC_NS, c.pcc_ns, nla_get_u64);
    c.state = nla_get_s32(tb[NANOCLOCK_A_STATE]);
    c.status = nla_get_u32(tb[NANOCLOCK_A_STATUS]);
    get_if(tb.data(), NANOCLOCK_A_TAI, c.tai, nla_get_s32);
    get_if(tb.data(), NANOCLOCK_A_MAXERROR, c.maxerror_us, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_ESTERROR, c.esterror_us, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_OFFSET, c.offset_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_FREQ, c.freq, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_CONSTANT, c.constant, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_PRECISION, c.precision_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_TOLERANCE, c.tolerance, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_TICK, c.tick_us, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_PPSFREQ, c.ppsfreq, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_JITTER, c.jitter_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_SHIFT, c.shift, nla_get_s32);
    get_if(tb.data(), NANOCLOCK_A_STABIL, c.stabil, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_JITCNT, c.jitcnt, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_CALCNT, c.calcnt, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_ERRCNT, c.errcnt, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_A_STBCNT, c.stbcnt, nla_get_s64);
    if (tb[NANOCLOCK_A_EVENT]) c.event = nla_get_u32(tb[NANOCLOCK_A_EVENT]);
    if (c.time_nsec >= 1'000'000'000u) {
        if (error) *error = "clock message: nanoseconds out of range";
        return std::nullopt;
    }
    return c;
}

std::optional<PpsSourceState> decode_pps_source(std::span<const uint8_t> payload,
                                                std::string* error) {
    static const auto spec = pps_spec();
    auto policy = make_policy(spec);
    std::array<nlattr*, NANOCLOCK_PPS_A_MAX + 1> tb;
    if (!parse(payload, policy, tb, error)) return std::nullopt;
    if (!require(tb.data(), {NANOCLOCK_PPS_A_SOURCE, NANOCLOCK_PPS_A_NAME, NANOCLOCK_PPS_A_KIND},
                 "PPS source message", error))
        return std::nullopt;
    PpsSourceState s;
    s.index = nla_get_u32(tb[NANOCLOCK_PPS_A_SOURCE]);
    s.name = nla_get_string(tb[NANOCLOCK_PPS_A_NAME]);
    s.kind = nla_get_string(tb[NANOCLOCK_PPS_A_KIND]);
    if (tb[NANOCLOCK_PPS_A_PPS_INDEX]) s.pps_index = nla_get_u32(tb[NANOCLOCK_PPS_A_PPS_INDEX]);
    get_if(tb.data(), NANOCLOCK_PPS_A_CLOCK, s.clock, nla_get_s32);
    get_if(tb.data(), NANOCLOCK_PPS_A_PPSTIME, s.pps_time, nla_get_u8);
    get_if(tb.data(), NANOCLOCK_PPS_A_PPSFREQ, s.pps_freq, nla_get_u8);
    get_if(tb.data(), NANOCLOCK_PPS_A_CLOCK_STATUS, s.clock_status, nla_get_u32);
    get_if(tb.data(), NANOCLOCK_PPS_A_EDGES, s.edges, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_FED, s.fed, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_REJECTED, s.rejected, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_POPCORN, s.popcorn, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_GAPS, s.gaps, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_LAST_PCC, s.last_pcc_ns, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_INTERVAL, s.interval_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_PPS_A_PHASE, s.phase_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_PPS_A_JITTER, s.jitter_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_PPS_A_WANDER, s.wander_ns, nla_get_s64);
    get_if(tb.data(), NANOCLOCK_PPS_A_COST_LAST, s.cost_last_ns, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_COST_MIN, s.cost_min_ns, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_COST_MEAN, s.cost_mean_ns, nla_get_u64);
    get_if(tb.data(), NANOCLOCK_PPS_A_COST_MAX, s.cost_max_ns, nla_get_u64);
    if (tb[NANOCLOCK_PPS_A_INJECT_PCC])
        s.inject_pcc_ns = nla_get_u64(tb[NANOCLOCK_PPS_A_INJECT_PCC]);
    return s;
}

std::string clock_event_name(uint32_t event) {
    switch (event) {
        case NANOCLOCK_EV_STATUS:
            return "status";
        case NANOCLOCK_EV_LEAP_ARMED:
            return "leap-armed";
        case NANOCLOCK_EV_LEAP_APPLIED:
            return "leap-applied";
        case NANOCLOCK_EV_PPS_GAINED:
            return "pps-gained";
        case NANOCLOCK_EV_PPS_LOST:
            return "pps-lost";
        case NANOCLOCK_EV_PPS_STATS:
            return "pps-stats";
        case NANOCLOCK_EV_CLOCK_SET:
            return "clock-set";
        default:
            return "event-" + std::to_string(event);
    }
}

std::string extack_message(std::span<const uint8_t> tlvs) {
    // Walk by hand: alignment of @tlvs is not guaranteed here and the
    // attribute set is tiny.
    size_t off = 0;
    while (off + NLA_HDRLEN <= tlvs.size()) {
        uint16_t len = 0, type = 0;
        std::memcpy(&len, tlvs.data() + off, 2);
        std::memcpy(&type, tlvs.data() + off + 2, 2);
        if (len < NLA_HDRLEN || off + len > tlvs.size()) return {};
        if ((type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
            const char* text = reinterpret_cast<const char*>(tlvs.data() + off + NLA_HDRLEN);
            const size_t n = len - NLA_HDRLEN;
            return std::string(text, strnlen(text, n));
        }
        off += NLA_ALIGN(len);
    }
    return {};
}

}  // namespace nanotime::kernel
