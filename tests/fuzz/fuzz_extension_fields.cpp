// Fuzz target: RFC 7822 extension fields and MAC trailers. The input is
// what follows a fixed, valid NTPv4 header, so every execution exercises
// the trailer rules. Checks that an accepted trailer is fully accounted for
// (fields + MAC cover it exactly) and that every field obeys the length
// rules, and that a packet rebuilt from the parsed fields parses the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "packet/codec.hpp"

using namespace nanotime::ntp;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    NtpHeader header;
    header.version = (size > 0 && (data[0] & 1)) ? 3 : 4;  // also NTPv3: MAC only
    header.mode = Mode::Client;
    header.transmit_time = NtpTimestamp{0x0123456789abcdefULL};
    const auto head = serialize_header(header);
    std::vector<uint8_t> bytes(head.begin(), head.end());
    bytes.insert(bytes.end(), data, data + size);

    const auto packet = parse_packet(bytes);
    if (!packet) return 0;
    size_t covered = kHeaderLength;
    for (const ExtensionField& field : packet->extensions) {
        check(header.version == 4);
        check(field.wire_length() >= kMinExtensionFieldLength);
        check(field.wire_length() % 4 == 0);
        covered += field.wire_length();
    }
    if (packet->mac) {
        const size_t mac = 4 + packet->mac->digest.size();
        check(mac == kCryptoNakLength || mac == kMd5MacLength || mac == kSha1MacLength);
        covered += mac;
    }
    check(covered == bytes.size());

    const auto encoded = serialize(*packet);
    check(encoded.has_value());
    const auto again = parse_packet(*encoded);
    check(again.has_value());
    check(again->extensions.size() == packet->extensions.size());
    // Bytes are reproduced exactly unless a short last field got padded.
    const bool padded = !packet->mac && !packet->extensions.empty() &&
                        packet->extensions.back().wire_length() < kMinLastExtensionFieldLength;
    if (!padded) check(*encoded == bytes);
    return 0;
}
