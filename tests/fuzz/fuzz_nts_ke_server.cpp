// Fuzz target: the NTS-KE server state machine (daemon/nts/ke_server.hpp)
// fed an untrusted request in an input-chosen chunking, with a deterministic
// exporter and cookie source.
//
// Invariants checked beyond "no crash, no sanitizer report":
//  * the response comes once, always with close_after_write, and is the same
//    whatever the chunking;
//  * the response is itself a well-formed message ending with End of
//    Message that the client side can read: keys issued means Next Protocol
//    {0}, one AEAD of the server's list, and exactly cookie_count cookies;
//    an error means one Error record and End of Message;
//  * nothing is answered before End of Message unless the request was
//    refused, and the request limit bounds what the server reads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "nts/ke_records.hpp"
#include "nts/ke_server.hpp"

using namespace nts;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

std::optional<std::vector<uint8_t>> exporter(std::string_view, std::span<const uint8_t> context,
                                             size_t length) {
    std::vector<uint8_t> out(length, context.empty() ? 0 : context.back());
    return out;
}

class Cookies : public CookieSource {
  public:
    std::vector<uint8_t> make_cookie(const NtsKeys& keys) override {
        return std::vector<uint8_t>(40, static_cast<uint8_t>(keys.aead));
    }
};

struct Run {
    std::vector<uint8_t> response;
    KeServerOutcome outcome = KeServerOutcome::Pending;
    size_t responses = 0;
};

Run serve(const KeServerConfig& config, std::span<const uint8_t> request, size_t chunk) {
    Cookies cookies;
    KeServerSession server(config, exporter, cookies);
    Run run;
    for (size_t at = 0; at < request.size(); at += chunk) {
        const bool complete_before = server.request_complete();
        const auto action = server.feed(request.subspan(at, std::min(chunk, request.size() - at)));
        check(action.write.empty() || !complete_before);
        if (!action.write.empty()) {
            ++run.responses;
            run.response = action.write;
            check(action.close_after_write);
            check(server.request_complete());
        }
        if (complete_before) check(action.close_after_write && action.write.empty());
    }
    check(server.request_bytes() <= config.max_request_bytes);
    run.outcome = server.outcome();
    return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    // Octet 0: chunk size 1..64. Octet 1: bits 0-1 the AEAD list, bit 2 a
    // configured NTP server, bit 3 a port, bits 4-7 the cookie count 0..15.
    const size_t chunk = (data[0] & 0x3f) + 1;
    KeServerConfig config;
    const uint8_t knobs = data[1];
    static const std::vector<uint16_t> lists[] = {{15}, {30, 15}, {15, 30}, {99, 15}};
    config.aead_algorithms = lists[knobs & 3];
    if (knobs & 4) config.ntp_server = "ntp.example.net";
    if (knobs & 8) config.ntp_port = 4123;
    config.cookie_count = knobs >> 4;
    config.max_request_bytes = 1024;
    const std::span<const uint8_t> request(data + 2, size - 2);

    const Run whole = serve(config, request, request.size() + 1);
    const Run split = serve(config, request, chunk);
    check(whole.responses <= 1 && split.responses == whole.responses);
    check(split.response == whole.response);
    check(split.outcome == whole.outcome);
    if (whole.responses == 0) {
        check(whole.outcome == KeServerOutcome::Pending);
        return 0;
    }

    RecordDecoder decoder(kDefaultMaxResponseBytes);
    decoder.feed(whole.response);
    std::vector<Record> records;
    for (;;) {
        auto next = decoder.next();
        check(next.has_value());
        if (!next->has_value()) break;
        records.push_back(std::move(**next));
    }
    check(decoder.end_of_message() && decoder.trailing_bytes() == 0);
    size_t cookies = 0;
    for (const auto& r : records) cookies += r.is(RecordType::NewCookie);
    switch (whole.outcome) {
        case KeServerOutcome::KeysIssued:
            check(records[0] == (Record{true, 1, {0, 0}}));
            check(records[1].is(RecordType::AeadAlgorithm) && records[1].body.size() == 2);
            check(std::find(config.aead_algorithms.begin(), config.aead_algorithms.end(),
                            read_u16(records[1].body)) != config.aead_algorithms.end());
            check(cookies == config.cookie_count);
            break;
        case KeServerOutcome::ErrorSent:
            check(records.size() == 2 && records[0].is(RecordType::Error));
            break;
        case KeServerOutcome::NoCommonProtocol:
            check(records.size() == 2 && records[0] == (Record{true, 1, {}}));
            break;
        case KeServerOutcome::NoCommonAead:
            check(records.size() == 3 && records[1] == (Record{true, 4, {}}));
            break;
        case KeServerOutcome::Pending:
        case KeServerOutcome::PoolSupportSent:  // the pool role is off here
        case KeServerOutcome::PoolKeysIssued:
            check(false);
    }
    return 0;
}
