#include "algorithm/on_wire.hpp"

#include <algorithm>

#include "algorithm/constants.hpp"

namespace nanotime::ntp {

OnWireSample measure_on_wire(NtpTimestamp t1, NtpTimestamp t2, NtpTimestamp t3, NtpTimestamp t4,
                             int8_t local_precision, int8_t peer_precision) {
    const Nanoseconds forward = difference(t2, t1);   // t2 - t1
    const Nanoseconds backward = difference(t3, t4);  // t3 - t4
    const Nanoseconds round_trip = difference(t4, t1);
    const Nanoseconds server_time = difference(t3, t2);
    OnWireSample sample;
    sample.offset = (forward + backward) / 2;
    const Nanoseconds precision_floor = from_seconds(log2_to_seconds(local_precision));
    sample.delay = std::max(round_trip - server_time, precision_floor);
    sample.dispersion = log2_to_seconds(peer_precision) + log2_to_seconds(local_precision) +
                        kPhi * std::max(0.0, to_seconds(round_trip));
    return sample;
}

}  // namespace nanotime::ntp
