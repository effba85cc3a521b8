// on_wire.hpp - RFC 5905 §8 on-wire calculations for a client/server exchange.
//
//   t1 origin: client transmit (client clock)   t2 receive: server receive (server clock)
//   t3 transmit: server transmit (server clock) t4 destination: client receive (client clock)
//   offset     theta = ((t2 - t1) + (t3 - t4)) / 2   (server minus client)
//   delay      delta = (t4 - t1) - (t3 - t2), at least the local precision
//   dispersion eps   = 2^precision_peer + 2^precision_local + PHI * (t4 - t1)
// Differences are taken on the wire timestamps, so the exchange may straddle
// an era boundary (2036) without error. Offset and delay are exact to 1 ns.
#pragma once

#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct OnWireSample {
    Nanoseconds offset{0};    // server clock minus local clock
    Nanoseconds delay{0};     // round trip minus server processing, >= 2^local_precision
    double dispersion = 0.0;  // s, maximum error from precisions and clock tolerance
};

OnWireSample measure_on_wire(NtpTimestamp t1, NtpTimestamp t2, NtpTimestamp t3, NtpTimestamp t4,
                             int8_t local_precision, int8_t peer_precision);

}  // namespace nanotime::ntp
