// test_support.hpp - helpers shared by the core's tests.
#pragma once

#include <variant>
#include <vector>

#include "packet/codec.hpp"
#include "source/source_action.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp::testing {

inline const NtpInstant kEpoch2026 =
    NtpInstant::from_unix(Nanoseconds(1'795'000'000LL * kNanosPerSecond));

template <typename T, typename Actions>
std::vector<T> actions_of(const Actions& actions) {
    std::vector<T> out;
    for (const auto& a : actions) {
        if (auto* t = std::get_if<T>(&a)) out.push_back(*t);
    }
    return out;
}

// A server reply to @request (client packet bytes) as a server whose clock
// reads @receive and @transmit would send it.
inline std::vector<uint8_t> make_reply(const std::vector<uint8_t>& request, NtpInstant receive,
                                       NtpInstant transmit, uint8_t stratum = 1,
                                       uint32_t reference_id = 0x47505300) {
    const NtpHeader query = *parse_header(request);
    NtpHeader h;
    h.leap = LeapIndicator::NoWarning;
    h.version = 4;
    h.mode = Mode::Server;
    h.stratum = stratum;
    h.poll = query.poll;
    h.precision = -20;
    h.root_delay = to_short(Nanoseconds(100'000));
    h.root_dispersion = to_short(Nanoseconds(200'000));
    h.reference_id = reference_id;
    h.reference_time = (receive - Nanoseconds(kNanosPerSecond)).to_timestamp();
    h.origin_time = query.transmit_time;
    h.receive_time = receive.to_timestamp();
    h.transmit_time = transmit.to_timestamp();
    const auto bytes = serialize_header(h);
    return {bytes.begin(), bytes.end()};
}

inline std::vector<uint8_t> with_header(std::vector<uint8_t> packet, void (*edit)(NtpHeader&)) {
    NtpHeader h = *parse_header(packet);
    edit(h);
    const auto bytes = serialize_header(h);
    std::copy(bytes.begin(), bytes.end(), packet.begin());
    return packet;
}

}  // namespace nanotime::ntp::testing
