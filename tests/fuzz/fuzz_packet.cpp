// Fuzz target: the whole path of an untrusted datagram through the core.
//
// Invariants checked beyond "no crash, no sanitizer report":
//  * validate_trailer() and parse_packet() accept exactly the same inputs;
//  * an accepted packet serializes, and the result parses to the same header
//    and the same field types (a short final field is padded, RFC 7822);
//  * the server and a client source handle it without crashing, and the
//    server's reply is never longer than the request;
//  * as a reply to the source's request (its cookie patched into the origin
//    timestamp, so the whole response path is reached), every delivery is
//    counted exactly once (accepted or one reason for refusal).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "packet/codec.hpp"
#include "packet_client_harness.hpp"
#include "server/ntp_server.hpp"

using namespace nanotime::ntp;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

const NtpInstant kNow = NtpInstant::from_unix(Nanoseconds(1'795'000'000LL * kNanosPerSecond));

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    const auto packet = parse_packet(bytes);
    const auto summary = validate_trailer(bytes);
    check(packet.has_value() == summary.has_value());
    if (packet) {
        check(summary->extension_fields == packet->extensions.size());
        check(summary->has_mac == packet->mac.has_value());
        const auto encoded = serialize(*packet);
        check(encoded.has_value());
        const auto again = parse_packet(*encoded);
        check(again.has_value());
        check(again->header == packet->header);
        check(again->extensions.size() == packet->extensions.size());
        for (size_t i = 0; i < again->extensions.size(); ++i) {
            check(again->extensions[i].type == packet->extensions[i].type);
        }
        check(again->mac == packet->mac);
    } else {
        check(packet.error() == summary.error());
    }

    SplitMix64 random(size);
    ServerConfig config;
    config.access.allow(*Cidr::parse("0.0.0.0/0"));
    config.rate_limit = RateLimitConfig{};
    config.rate_limit->memory_bytes = 4096;
    NtpServer server(config, random);
    SystemState state;
    state.leap = LeapIndicator::NoWarning;
    state.stratum = 2;
    const auto response =
        server.handle(bytes, SocketAddress{IpAddress::v4(192, 0, 2, 1), 123}, kNow, kNow, state);
    check(response.bytes().size() <= size);

    // A client source gets the bytes as the reply to its requests, with its
    // cookie patched in as the origin timestamp (packet_client_harness.hpp).
    fuzzing::deliver_as_replies(bytes, random);
    return 0;
}
