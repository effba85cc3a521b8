// Fuzz target: the refclock drivers' parsers of what another process wrote:
// a chrony SOCK datagram (gpsd), an ntpd SHM segment's copy with the
// count read after it, and a PTP clock's PTP_SYS_OFFSET* stamps (triplets,
// and the interleaved form). A reading they accept must carry a valid timespec,
// a finite offset and a defined leap indicator.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "refclock/phc_reading.hpp"
#include "refclock/shm_segment.hpp"
#include "refclock/sock_sample.hpp"

using namespace nanotime;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

void check_reading(const refclock::ParseOutcome& outcome) {
    const auto* r = std::get_if<refclock::Reading>(&outcome);
    if (r == nullptr) return;
    check(r->system_time.tv_sec >= 0);
    check(r->system_time.tv_nsec >= 0 && r->system_time.tv_nsec < 1'000'000'000);
    check(std::isfinite(r->offset));
    check(r->leap != ntp::LeapIndicator::Unsynchronized);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    check_reading(refclock::parse_sock_sample(std::span(data, size)));
    if (size >= sizeof(refclock::ShmTime) + sizeof(int32_t)) {
        refclock::ShmTime copy;
        std::memcpy(&copy, data, sizeof copy);
        int32_t count_after = 0;
        std::memcpy(&count_after, data + sizeof copy, sizeof count_after);
        check_reading(refclock::read_shm_copy(copy, count_after));
    }
    std::vector<refclock::PhcStamp> stamps(size / 12);
    for (size_t i = 0; i < stamps.size(); ++i) {
        std::memcpy(&stamps[i].sec, data + 12 * i, sizeof stamps[i].sec);
        std::memcpy(&stamps[i].nsec, data + 12 * i + 8, sizeof stamps[i].nsec);
    }
    std::vector<refclock::PhcTriplet> triplets;
    for (size_t i = 0; i + 2 < stamps.size(); i += 3)
        triplets.push_back({stamps[i], stamps[i + 1], stamps[i + 2]});
    check_reading(refclock::phc_reading(triplets));
    check_reading(refclock::phc_reading(refclock::phc_triplets_from_interleaved(stamps)));
    return 0;
}
