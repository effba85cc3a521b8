// packet_client_harness.hpp - hands fuzzed bytes to a client source as the
// reply to its outstanding request (used by fuzz_packet and its unit test).
//
// A source only accepts a reply whose origin timestamp echoes the random
// 64-bit cookie of its request (RFC 5905 TEST2), which a fuzzer never
// guesses. So the harness takes the cookie from the request the source sent
// and patches it into the origin field (octets 24-31) of the fuzzed bytes:
// everything after TEST2 (kiss codes, TEST3/6/7, on-wire arithmetic, the
// clock filter and the estimator) is reached. The unpatched bytes go first
// (the TEST2 path), the patched bytes twice (accepted, then TEST1), over a
// few polls so that the filter and the estimator see several samples.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

#include "packet/codec.hpp"
#include "source/ntp_source.hpp"
#include "util/random.hpp"

namespace nanotime::ntp::fuzzing {

// How many replies one delivery can count: each lands in exactly one counter.
inline uint64_t reply_outcomes(const SourceCounters& c) {
    return c.replies_accepted + c.malformed + c.wrong_mode + c.duplicate + c.bogus +
           c.invalid_timestamps + c.unsynchronized + c.bad_header + c.kiss_rate + c.kiss_deny +
           c.kiss_other;
}

// Feeds @bytes to a fresh source as the reply to @polls consecutive requests
// and returns its counters. Aborts if a reply to a live source is not
// counted exactly once.
inline SourceCounters deliver_as_replies(std::span<const uint8_t> bytes, RandomSource& random,
                                         unsigned polls = 3) {
    constexpr size_t kOriginOffset = 24;  // origin timestamp, octets 24-31
    constexpr size_t kTransmitOffset = 40;
    SourceConfig config;
    config.address = SocketAddress{IpAddress::v4(192, 0, 2, 2), 123};
    NtpSource source(1, config);
    NtpInstant now = NtpInstant::from_unix(Nanoseconds(1'795'000'000LL * kNanosPerSecond));
    std::vector<uint8_t> patched(bytes.begin(), bytes.end());
    for (unsigned poll = 0; poll < polls && !source.demobilized(); ++poll) {
        const SourceActions actions = source.handle_timer(now, random);
        const auto request_id = source.outstanding_request();
        if (!request_id) break;
        const SendRequest* send = nullptr;
        for (const auto& action : actions) {
            if (const auto* s = std::get_if<SendRequest>(&action)) send = s;
        }
        if (send == nullptr || send->packet.size() < kTransmitOffset + 8) std::abort();
        if (patched.size() >= kOriginOffset + 8) {
            std::copy_n(send->packet.begin() + kTransmitOffset, 8, patched.begin() + kOriginOffset);
        }
        const NtpInstant received = now + Nanoseconds(1'000'000);
        for (const std::span<const uint8_t> reply :
             {bytes, std::span<const uint8_t>(patched), std::span<const uint8_t>(patched)}) {
            if (source.demobilized()) break;  // a DENY/RSTR kiss: the source is gone
            const uint64_t before = reply_outcomes(source.counters());
            source.handle_packet(reply, *request_id, received);
            if (reply_outcomes(source.counters()) != before + 1) std::abort();
        }
        now += Nanoseconds(16LL * kNanosPerSecond);
    }
    return source.counters();
}

}  // namespace nanotime::ntp::fuzzing
