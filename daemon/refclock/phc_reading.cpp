// phc_reading.cpp - the choice among a PTP hardware clock's offset samples
// (see phc_reading.hpp).
#include "refclock/phc_reading.hpp"

#include <string>

namespace nanotime::refclock {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
// Seconds beyond which sec * 1e9 would overflow int64 (year 2262).
constexpr int64_t kMaxSec = INT64_MAX / kNsPerSec - 1;

std::optional<int64_t> to_ns(const PhcStamp& s) {
    if (s.sec < 0 || s.sec > kMaxSec || s.nsec >= kNsPerSec) return std::nullopt;
    return s.sec * kNsPerSec + static_cast<int64_t>(s.nsec);
}

std::string text(const PhcStamp& s) {
    return std::to_string(s.sec) + " s " + std::to_string(s.nsec) + " ns";
}

}  // namespace

std::vector<PhcTriplet> phc_triplets_from_interleaved(std::span<const PhcStamp> stamps) {
    std::vector<PhcTriplet> out;
    if (stamps.size() < 3 || stamps.size() % 2 == 0) return out;
    for (size_t i = 0; i + 2 < stamps.size(); i += 2)
        out.push_back(PhcTriplet{stamps[i], stamps[i + 1], stamps[i + 2]});
    return out;
}

std::variant<PhcChoice, Refusal> choose_phc_triplet(std::span<const PhcTriplet> triplets) {
    if (triplets.empty()) return Refusal{ntp::RefclockReject::BadTimestamp, "no PHC samples"};
    std::optional<PhcChoice> best;
    int64_t negative = 0;
    for (size_t i = 0; i < triplets.size(); ++i) {
        const PhcTriplet& t = triplets[i];
        const auto before = to_ns(t.system_before);
        const auto phc = to_ns(t.phc);
        const auto after = to_ns(t.system_after);
        if (!before || !phc || !after) {
            return Refusal{ntp::RefclockReject::BadTimestamp,
                           "sample " + std::to_string(i) + ": system " + text(t.system_before) +
                               ", PHC " + text(t.phc) + ", system " + text(t.system_after)};
        }
        const int64_t interval = *after - *before;
        if (interval < 0) {
            ++negative;  // the system clock went back between the two stamps
            continue;
        }
        if (best && interval >= best->delay_ns) continue;  // the first of equals stays
        PhcChoice c;
        c.index = i;
        c.system_mid = *before + interval / 2;
        c.offset_ns = *phc - c.system_mid;
        c.delay_ns = interval;
        best = c;
    }
    if (!best) {
        return Refusal{ntp::RefclockReject::BadTimestamp,
                       "all " + std::to_string(negative) +
                           " PHC samples have the system clock going backwards"};
    }
    return *best;
}

ParseOutcome phc_reading(std::span<const PhcTriplet> triplets) {
    const auto choice = choose_phc_triplet(triplets);
    if (const auto* r = std::get_if<Refusal>(&choice)) return *r;
    const PhcChoice& c = std::get<PhcChoice>(choice);
    Reading reading;
    reading.system_time.tv_sec = static_cast<time_t>(c.system_mid / kNsPerSec);
    reading.system_time.tv_nsec = static_cast<long>(c.system_mid % kNsPerSec);
    reading.offset = static_cast<double>(c.offset_ns) * 1e-9;
    return reading;
}

}  // namespace nanotime::refclock
