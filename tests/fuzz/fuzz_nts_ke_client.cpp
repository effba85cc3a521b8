// Fuzz target: the NTS-KE client state machine (daemon/nts/ke_client.hpp)
// fed an untrusted response in an input-chosen chunking.
//
// Invariants checked beyond "no crash, no sanitizer report":
//  * the chunking changes nothing: same status, same failure, same result;
//  * Done means keys of the negotiated AEAD's length, an AEAD the client
//    offered, at least one cookie, a valid NTP server name and a port;
//  * a failure keeps no cookies (RFC 8915 §4.1.3: discard everything);
//  * a close after the bytes ends every exchange in Done or Failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "nts/ke_client.hpp"

using namespace nts;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

std::optional<std::vector<uint8_t>> exporter(std::string_view, std::span<const uint8_t> context,
                                             size_t length) {
    return std::vector<uint8_t>(length, context.empty() ? 0 : context.back());
}

KeClientSession run(const KeClientConfig& config, std::span<const uint8_t> response, size_t chunk) {
    KeClientSession client(config, exporter);
    for (size_t at = 0; at < response.size(); at += chunk) {
        const auto before = client.status();
        const auto after = client.feed(response.subspan(at, std::min(chunk, response.size() - at)));
        if (before != KeClientStatus::NeedMore) check(after == before);
    }
    return client;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    // Octet 0: chunk size 1..128; octet 1: AEAD list offered, limit.
    const size_t chunk = (data[0] & 0x7f) + 1;
    KeClientConfig config;
    config.ke_host = "ke.example.net";
    config.aead_algorithms =
        (data[1] & 1) ? std::vector<uint16_t>{30, 15} : std::vector<uint16_t>{15};
    config.max_response_bytes = (data[1] & 2) ? 512 : kDefaultMaxResponseBytes;
    const std::span<const uint8_t> response(data + 2, size - 2);

    KeClientSession whole = run(config, response, response.size() + 1);
    KeClientSession split = run(config, response, chunk);
    check(whole.status() == split.status());
    if (whole.status() == KeClientStatus::Failed) {
        check(whole.failure().error == split.failure().error);
        check(whole.failure().code == split.failure().code);
        check(whole.failure().record == split.failure().record);
        check(whole.result().cookies.empty());
    }
    if (whole.status() == KeClientStatus::Done) {
        const auto& r = whole.result();
        check(r.cookies == split.result().cookies && r.keys == split.result().keys);
        check(!r.cookies.empty());
        check(std::find(config.aead_algorithms.begin(), config.aead_algorithms.end(),
                        r.keys.aead) != config.aead_algorithms.end());
        check(r.keys.c2s.size() == aead_key_length(r.keys.aead));
        check(r.keys.s2c.size() == r.keys.c2s.size());
        check(valid_server_name(r.ntp_server) && r.ntp_port != 0);
    }
    check(whole.peer_closed() != KeClientStatus::NeedMore);
    return 0;
}
