// Fuzz target: NTS-protected NTP requests at the server. The input is what
// follows a fixed NTPv4 client header; the server holds the master keys of
// tests/nts/nts_exchange.hpp, so the seed (a real request) opens and
// verifies, and mutations explore every check after it. Checks: the field
// parser's ranges lie inside the packet and in order; the server never
// answers a request whose authenticator it did not verify (except the NTSN
// NAK, which carries no authenticator); a response is never larger than
// the request and parses as NTP and NTS again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "nts_exchange.hpp"
#include "packet/codec.hpp"

using namespace nts;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

bool inside(std::span<const uint8_t> part, const std::vector<uint8_t>& packet) {
    return part.empty() || (part.data() >= packet.data() &&
                            part.data() + part.size() <= packet.data() + packet.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static test::Exchange x;
    const auto head = test::client_header();
    std::vector<uint8_t> packet(head.begin(), head.end());
    packet.insert(packet.end(), data, data + size);

    const auto fields = parse_nts_fields(packet);
    if (fields) {
        check(inside(fields->unique_id, packet) && inside(fields->cookie, packet));
        check(inside(fields->nonce, packet) && inside(fields->ciphertext, packet));
        if (fields->has_authenticator) {
            check(fields->authenticator_offset >= kNtpHeaderLength);
            check(fields->nonce.data() > packet.data() + fields->authenticator_offset);
            check(fields->nonce.size() >= kMinNonceLength && fields->ciphertext.size() >= 16);
        }
    }
    const NtsRequest request = x.server->check(packet, test::kNow);
    if (!fields) check(request.verdict == NtsVerdict::Drop);
    if (request.verdict != NtsVerdict::Authentic && request.verdict != NtsVerdict::Nak) return 0;
    check(fields && fields->any_nts() && !fields->unique_id.empty());
    const auto header = request.verdict == NtsVerdict::Nak ? test::nak_header(packet.data())
                                                           : test::server_header(packet.data());
    std::vector<uint8_t> out(kMaxNtsPacket);
    const auto n = x.server->respond(request, header, test::kNow, out);
    if (!n) return 0;
    check(*n <= packet.size());
    out.resize(*n);
    const auto reply = parse_nts_fields(out);
    check(reply.has_value());
    check(reply->has_authenticator == (request.verdict == NtsVerdict::Authentic));
    check(nanotime::ntp::parse_packet(out).has_value());
    return 0;
}
