// constants.hpp - RFC 5905 §7.2 / Appendix A parameters. Units in the names'
// comments; all statistics are double seconds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nanotime::ntp {

inline constexpr double kPhi = 15e-6;            // frequency tolerance, s/s (15 ppm)
inline constexpr size_t kFilterStages = 8;       // NSTAGE: clock filter shift register
inline constexpr double kMaxDispersion = 16.0;   // MAXDISP, s: a stage this bad is empty
inline constexpr double kMinDispersion = 0.005;  // MINDISP, s: floor of root distance terms
inline constexpr double kMaxDistance = 1.5;      // MAXDIST, s: root distance threshold
inline constexpr double kSpikeGate = 3.0;        // SGATE: popcorn spike threshold, in jitters
inline constexpr uint8_t kMaxStratum = 16;       // MAXSTRAT: unsynchronized
inline constexpr size_t kMinSane = 1;            // NSANE: minimum intersection survivors
inline constexpr size_t kMinCluster = 3;         // NMIN: minimum cluster survivors
inline constexpr size_t kMaxCluster = 10;        // MAXCLOCK: survivors entering clustering
inline constexpr int8_t kMinPoll = 3;            // lowest poll allowed, log2 s (8 s): see below
inline constexpr int8_t kMaxPoll = 17;           // MAXPOLL, log2 s (36 h)
inline constexpr int kPollGate = 4;              // PGATE: poll-adjust gate, in jitters
inline constexpr int kPollLimit = 30;            // LIMIT: poll-adjust counter threshold
// RFC 5905's MINPOLL is 4 (16 s); like chrony and ntpd we allow 3 for servers
// on a LAN. Config validation (minpoll/maxpoll), the poll controller's clamp
// and the server's echo of a client's poll all use kMinPoll/kMaxPoll.

// 2^exponent seconds, for the log2 fields (poll, precision).
constexpr double log2_to_seconds(int exponent) {
    double value = 1.0;
    if (exponent >= 0) {
        for (int i = 0; i < exponent; ++i) value *= 2.0;
    } else {
        for (int i = 0; i < -exponent; ++i) value /= 2.0;
    }
    return value;
}

}  // namespace nanotime::ntp
