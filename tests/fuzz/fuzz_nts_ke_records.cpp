// Fuzz target: the NTS-KE record decoder (daemon/nts/ke_records.hpp) fed
// untrusted octets in an input-chosen chunking.
//
// Invariants checked beyond "no crash, no sanitizer report":
//  * the chunking changes nothing: the same records, the same error, the
//    same End of Message as one whole feed;
//  * every record handed out is well formed (validate_record), and encoding
//    it again gives back exactly the octets it was decoded from;
//  * nothing beyond the message limit is ever decoded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "nts/ke_records.hpp"

using namespace nts;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

struct Run {
    std::vector<Record> records;
    std::optional<RecordError> error;
    bool end_of_message = false;
    size_t message_bytes = 0;
};

Run decode(std::span<const uint8_t> bytes, size_t chunk, size_t limit) {
    RecordDecoder decoder(limit);
    Run run;
    size_t at = 0;
    do {
        const size_t n = std::min(chunk, bytes.size() - at);
        decoder.feed(bytes.subspan(at, n));
        at += n;
        for (;;) {
            auto next = decoder.next();
            if (!next) {
                run.error = next.error();
                check(decoder.failed());
                return run;
            }
            if (!next->has_value()) break;
            run.records.push_back(std::move(**next));
        }
    } while (at < bytes.size());
    run.end_of_message = decoder.end_of_message();
    run.message_bytes = decoder.message_bytes();
    return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    // Octet 0: chunk size 1..256; octet 1: the limit, 64 octets to 16 KiB.
    const size_t chunk = static_cast<size_t>(data[0]) + 1;
    const size_t limit = 64 * (static_cast<size_t>(data[1]) + 1);
    const std::span<const uint8_t> bytes(data + 2, size - 2);

    const Run whole = decode(bytes, bytes.size() + 1, limit);
    const Run split = decode(bytes, chunk, limit);
    check(whole.records == split.records);
    check(whole.error == split.error);
    check(whole.end_of_message == split.end_of_message);

    std::vector<uint8_t> encoded;
    for (const Record& record : whole.records) {
        check(!validate_record(record).has_value());
        check(append_record(encoded, record.critical, record.type, record.body));
    }
    check(encoded.size() <= limit);
    check(std::equal(encoded.begin(), encoded.end(), bytes.begin()));
    if (whole.end_of_message) {
        check(whole.records.back().is(RecordType::EndOfMessage));
        check(whole.message_bytes == encoded.size());
    }
    return 0;
}
