// server_counters.hpp - what the NTP server did with each request.
//
// Monotonic, never reset (Prometheus counter semantics). Every received
// datagram lands in exactly one of the outcome counters.
#pragma once

#include <cstdint>

namespace nanotime::ntp {

struct ServerCounters {
    uint64_t received = 0;
    // Outcomes:
    uint64_t replied = 0;
    uint64_t rate_limited_kod = 0;      // answered with a RATE kiss-o'-death
    uint64_t rate_limited_dropped = 0;  // over the limit, KoD already sent recently
    uint64_t denied = 0;                // not permitted by the access list (or server closed)
    uint64_t malformed = 0;             // failed to parse (see ParseError)
    uint64_t wrong_mode = 0;            // not a client (mode 3) request
    uint64_t authenticated = 0;         // carried a MAC: symmetric keys are not supported
    uint64_t nts_nak = 0;               // NTS cookie did not open: NTSN kiss-o'-death sent
    uint64_t nts_dropped = 0;           // NTS request malformed or not authentic (see
                                        // nts::NtsServerCounters for why)
    // Informational:
    uint64_t extension_fields_ignored = 0;  // unknown fields in answered requests
    uint64_t interleaved = 0;               // replies in interleaved mode (part of replied)
    uint64_t tx_stamps = 0;                 // kernel transmit stamps kept for interleaved replies
};

}  // namespace nanotime::ntp
