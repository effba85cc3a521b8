// Fuzz target: the refclock drivers' parsers of what another process wrote:
// a chrony SOCK datagram (gpsd), and an ntpd SHM segment's copy with the
// count read after it. A reading they accept must carry a valid timespec,
// a finite offset and a defined leap indicator.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

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
    return 0;
}
