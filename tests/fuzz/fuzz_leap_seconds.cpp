// Fuzz target: the leap-seconds.list parser (clock.leap_seconds_file). Any
// input gives a table or an error with a message; a table's entries are
// ordered with +-1 s steps, and its status at instants around every entry
// is consistent (announcement implies a known next leap, arming implies an
// announcement, the TAI offset is one of the table's).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "leap/leap_seconds.hpp"

using namespace nanotime::ntp;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

void check_status(const LeapTable& t, int64_t second) {
    if (second < 0 || second > 9'000'000'000) return;  // NtpInstant covers up to 2192
    const LeapStatus s =
        t.status_at(NtpInstant::from_nanos_since_prime_epoch(second * kNanosPerSecond));
    if (s.announce != LeapIndicator::NoWarning) check(s.next_leap.has_value());
    if (s.arm_kernel) check(s.announce != LeapIndicator::NoWarning);
    if (s.next_change_in) check(*s.next_change_in > 0);
    if (s.next_leap) check(*s.next_leap > second);
    bool known = s.tai_offset == 0;
    for (const LeapEntry& e : t.entries()) known = known || e.tai_offset == s.tai_offset;
    check(known);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto t = LeapTable::parse(text);
    if (!t) {
        check(!t.error().message.empty());
        check(!t.error().to_string().empty());
        return 0;
    }
    check(!t->entries().empty());
    check(t->expires() > t->updated());
    for (size_t i = 1; i < t->entries().size(); ++i) {
        const LeapEntry& a = t->entries()[i - 1];
        const LeapEntry& b = t->entries()[i];
        check(b.ntp_seconds > a.ntp_seconds);
        check(b.tai_offset - a.tai_offset == 1 || b.tai_offset - a.tai_offset == -1);
    }
    for (const LeapEntry& e : t->entries()) {
        for (int64_t d : {-86'401, -86'400, -1, 0, 1}) check_status(*t, e.ntp_seconds + d);
    }
    check_status(*t, t->expires());
    return 0;
}
