// Fuzz target: the NTS pool records and the time-source side of the NTS-KE
// server (daemon/nts/ke_pool_records.hpp, ke_server.hpp with
// KeServerConfig::pool, pool_tokens.hpp), fed an untrusted stream of one or
// more requests in an input-chosen chunking, as an input-chosen peer
// (no certificate, rejected, pool CA verified).
//
// Invariants checked beyond "no crash, no sanitizer report":
//  * the responses are the same whatever the chunking;
//  * every response is a well-formed message ending with End of Message,
//    one per answered request, and the session closes after the last;
//  * Keep Alive appears in a response exactly when the request was kept
//    alive, only for a verified peer, at most max_requests - 1 times;
//  * pool answers (Supported lists, fixed-key cookies) go only to a
//    verified peer that sent a configured token, and never carry cookies
//    made from exported keys;
//  * the record readers (Supported lists, Fixed Key halves, the token file)
//    accept exactly what their rules say.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "nts/ke_pool_records.hpp"
#include "nts/ke_records.hpp"
#include "nts/ke_server.hpp"
#include "nts/pool_tokens.hpp"

using namespace nts;

namespace {

void check_at(bool condition, int line) {
    if (condition) return;
    std::fprintf(stderr, "fuzz_nts_pool.cpp:%d: invariant failed\n", line);
    std::abort();
}
#define check(condition) check_at((condition), __LINE__)

constexpr uint8_t kExportedOctet = 0xee;  // every exported key octet

std::optional<std::vector<uint8_t>> exporter(std::string_view, std::span<const uint8_t>,
                                             size_t length) {
    return std::vector<uint8_t>(length, kExportedOctet);
}

// Cookie = aead, then the first octets of C2S and S2C: the checks can tell
// exported keys from given ones.
class Cookies : public CookieSource {
  public:
    std::vector<uint8_t> make_cookie(const NtsKeys& keys) override {
        std::vector<uint8_t> c = {static_cast<uint8_t>(keys.aead), keys.c2s.at(0), keys.s2c.at(0)};
        c.resize(40, 0xc0);
        return c;
    }
};

struct Run {
    std::vector<uint8_t> written;
    std::vector<KeRequestResult> answered;
    bool closed = false;
    int gate_calls = 0;
};

Run serve(const KeServerConfig& config, PoolPeer peer, bool admit, std::span<const uint8_t> stream,
          size_t chunk) {
    Cookies cookies;
    Run run;
    KeServerSession server(config, exporter, cookies, peer, [&run, admit] {
        ++run.gate_calls;
        return admit;
    });
    for (size_t at = 0; at < stream.size(); at += chunk) {
        auto action = server.feed(stream.subspan(at, std::min(chunk, stream.size() - at)));
        check(!run.closed || (action.write.empty() && action.answered.empty()));
        check(action.write.empty() == action.answered.empty());
        run.written.insert(run.written.end(), action.write.begin(), action.write.end());
        run.answered.insert(run.answered.end(), action.answered.begin(), action.answered.end());
        if (action.close_after_write) run.closed = true;
    }
    check(run.answered.size() == server.requests_answered());
    check(run.gate_calls <= 1);
    return run;
}

void check_readers(std::span<const uint8_t> data) {
    const auto protocols = read_supported_protocols(data);
    check(protocols.has_value() == (data.size() % 2 == 0));
    const auto algorithms = read_supported_algorithms(data);
    if (algorithms) {
        check(data.size() % 4 == 0 && algorithms->size() == data.size() / 4);
        std::vector<uint8_t> again;
        check(append_supported_algorithms(again, *algorithms));
        check(std::equal(again.begin() + 4, again.end(), data.begin(), data.end()));
    }
    for (const size_t length : {size_t{16}, size_t{32}, data.size() / 2}) {
        const auto halves = split_fixed_key(data, length);
        check(halves.has_value() == (length > 0 && data.size() == 2 * length));
    }
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    const auto tokens = parse_pool_token_file(text);
    if (tokens) {
        check(tokens->size() <= kMaxPoolTokens);
        for (const auto& t : *tokens) check(valid_authentication_token(t));
    }
    Record record{(data.size() & 1) != 0, 0, {data.begin(), data.end()}};
    for (const auto& c : kPoolCodepoints) {
        record.type = static_cast<uint16_t>(c.type);
        static_cast<void>(validate_pool_record(record));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const std::span<const uint8_t> input(data, size);
    check_readers(input.subspan(2));

    // Octet 0: chunk size 1..64. Octet 1: bits 0-1 the peer (0, 3: verified),
    // bit 2 the Keep Alive gate admits, bits 3-4 max_requests 1..4, bit 5
    // the pool role on, bit 6 a configured NTP server.
    const size_t chunk = (data[0] & 0x3f) + 1;
    const uint8_t knobs = data[1];
    static const PoolPeer peers[] = {PoolPeer::CertificateVerified, PoolPeer::NoCertificate,
                                     PoolPeer::CertificateRejected, PoolPeer::CertificateVerified};
    const PoolPeer peer = peers[knobs & 3];
    const bool admit = (knobs & 4) != 0;
    KeServerConfig config;
    config.pool.enabled = (knobs & 0x20) == 0;
    config.pool.tokens = PoolTokens({"tok", "0123456789abcdef"});
    config.pool.max_requests = ((knobs >> 3) & 3) + 1;
    if (knobs & 0x40) config.ntp_server = "ntp.example.net";
    config.max_request_bytes = 2048;
    const std::span<const uint8_t> stream = input.subspan(2);

    const Run whole = serve(config, peer, admit, stream, stream.size() + 1);
    const Run split = serve(config, peer, admit, stream, chunk);
    check(split.written == whole.written);
    check(split.answered.size() == whole.answered.size());
    check(split.closed == whole.closed);
    check(whole.answered.size() <= config.pool.max_requests);

    const bool pool_peer = config.pool.enabled && peer == PoolPeer::CertificateVerified;
    RecordDecoder decoder(kDefaultMaxResponseBytes);
    decoder.feed(whole.written);
    size_t kept = 0;
    for (size_t i = 0; i < whole.answered.size(); ++i) {
        const KeRequestResult& result = whole.answered[i];
        check(result.outcome == split.answered[i].outcome);
        std::vector<Record> records;
        for (;;) {
            auto next = decoder.next();
            check(next.has_value() && next->has_value());
            records.push_back(std::move(**next));
            if (records.back().is(RecordType::EndOfMessage)) break;
        }
        const bool keep_alive_record =
            std::any_of(records.begin(), records.end(), [](const Record& r) {
                return r.type == static_cast<uint16_t>(PoolRecordType::KeepAlive);
            });
        check(keep_alive_record == result.keep_alive);
        check(!result.keep_alive || (pool_peer && admit));
        kept += result.keep_alive;
        // Only the last answer may close the session; all before it kept it.
        check(result.keep_alive == (i + 1 < whole.answered.size() || !whole.closed));
        const bool pool_answer = result.outcome == KeServerOutcome::PoolSupportSent ||
                                 result.outcome == KeServerOutcome::PoolKeysIssued;
        check(!pool_answer || pool_peer);
        check(!result.pool_request || pool_peer ||
              result.pool_refusal == PoolRefusal::NoCertificate ||
              result.pool_refusal == PoolRefusal::CertificateRejected ||
              result.outcome == KeServerOutcome::ErrorSent);
        for (const Record& r : records) {
            if (!r.is(RecordType::NewCookie)) continue;
            const bool exported = r.body[1] == kExportedOctet && r.body[2] == kExportedOctet;
            // Keys exported from a kept-alive session would be reused: never.
            if (i > 0) check(result.outcome == KeServerOutcome::PoolKeysIssued);
            if (result.outcome == KeServerOutcome::KeysIssued) check(exported);
        }
        decoder.restart();
    }
    check(kept < config.pool.max_requests);
    const auto rest = decoder.next();
    check(rest.has_value() && !rest->has_value());
    return 0;
}
