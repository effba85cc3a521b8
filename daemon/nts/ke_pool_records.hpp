// ke_pool_records.hpp - the NTS-KE records of the NTS pool draft
// (draft-ietf-ntp-nts-keyexchange-pool-00, earlier draft-venhoek-nts-pool):
// what a pool (a KE front that terminates its clients' TLS) and a time
// source say to each other, and the client's NTP Server Deny. One table of
// codepoints, the body rules of each record, and an encoder and a strict
// reader per record. Sans-IO; the record framing is ke_records.hpp's.
//
// Bodies (all integers big-endian):
//   Keep Alive                    empty (a received body is ignored, draft §Keep Alive)
//   Supported Next Protocol List  request: empty (ignored); response: 16-bit protocol ids
//   Supported Algorithm List      request: empty (ignored); response: (AEAD id, key length)
//                                 pairs of 16-bit numbers
//   Fixed Key Request             C2S key ‖ S2C key, each the AEAD's key length
//   NTP Server Deny               a server name as in NTPv4 Server Negotiation
//   Authentication                the pool's token: printable ASCII, no spaces
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "nts/ke_records.hpp"

namespace nts {

// The record types. The numbers are IANA's early allocation in the "NTS
// Key Establishment Record Types" registry, the ones ntpd-rs >= 1.9.0
// ("IANA early-allocated codepoints", CHANGELOG; ntp-proto/src/nts/record.rs)
// and the nts-pool KE front (pool-nts/src/record.rs) send. The drafts up to
// draft-venhoek-nts-pool-03 used 0x40xx numbers from the private range
// instead (kPoolCodepoints[].draft_value); nanotimed neither sends nor
// accepts those, as ntpd-rs >= 1.9 no longer does.
enum class PoolRecordType : uint16_t {
    KeepAlive = 8,
    SupportedNextProtocolList = 9,
    SupportedAlgorithmList = 10,
    FixedKeyRequest = 12,
    NtpServerDeny = 13,
    Authentication = 14,
};

struct PoolCodepoint {
    PoolRecordType type;
    uint16_t draft_value;  // draft-venhoek-nts-pool-03's number (0 for none)
    bool critical;         // the critical bit the draft sets (and nanotimed sends)
    std::string_view name;
};

// Where each number comes from: `type` = IANA early allocation (ntpd-rs
// record.rs), `draft_value` = draft-venhoek-nts-pool-03 §6 ("draft
// implementations: 0x40xx"); Authentication appeared after -03 (nts-pool
// code only). List Server Names (draft 0x4005) has no early allocation,
// so it is not in this table: a record with that number is an unknown
// record to the decoder (refused when critical, skipped otherwise).
inline constexpr PoolCodepoint kPoolCodepoints[] = {
    {PoolRecordType::KeepAlive, 0x4000, false, "Keep Alive"},
    {PoolRecordType::SupportedNextProtocolList, 0x4004, true, "Supported Next Protocol List"},
    {PoolRecordType::SupportedAlgorithmList, 0x4001, true, "Supported Algorithm List"},
    {PoolRecordType::FixedKeyRequest, 0x4002, true, "Fixed Key Request"},
    {PoolRecordType::NtpServerDeny, 0x4003, false, "NTP Server Deny"},
    {PoolRecordType::Authentication, 0, false, "Authentication"},
};

// Longest Authentication body accepted or sent, octets. The nts-pool token
// is 64 hex digits; room for other schemes.
inline constexpr size_t kMaxAuthenticationTokenLength = 256;

// True for the six types above (@type without the critical bit).
bool is_pool_record(uint16_t type);
// The table entry, or nullptr.
const PoolCodepoint* pool_codepoint(uint16_t type);

// Body rules that hold in both directions (validate_record() calls this for
// pool types): the Supported lists and Fixed Key Request are critical; a
// Fixed Key body is non-empty and of even length; a Deny body is a server
// name; a token is valid_authentication_token(). nullopt if well formed.
std::optional<RecordError> validate_pool_record(const Record& record);

// 1..kMaxAuthenticationTokenLength octets of printable ASCII (0x21-0x7e).
bool valid_authentication_token(std::string_view token);

struct AlgorithmDescription {
    uint16_t aead = 0;
    uint16_t key_length = 0;  // octets
    friend bool operator==(const AlgorithmDescription&, const AlgorithmDescription&) = default;
};

// Response bodies of the Supported lists. Protocols: an even length
// (OddListLength). Algorithms: whole 4-octet pairs with a key length of at
// least 1 (BadAlgorithmList).
Result<std::vector<uint16_t>, RecordError> read_supported_protocols(std::span<const uint8_t> body);
Result<std::vector<AlgorithmDescription>, RecordError> read_supported_algorithms(
    std::span<const uint8_t> body);

// The C2S and S2C halves of a Fixed Key body for an AEAD with
// @key_length-octet keys: BadFixedKeyLength unless the body is exactly
// 2 * @key_length octets (and @key_length > 0).
Result<std::pair<std::span<const uint8_t>, std::span<const uint8_t>>, RecordError> split_fixed_key(
    std::span<const uint8_t> body, size_t key_length);

// Encoders: append one record to @out; those that can refuse their input
// return false and leave @out unchanged.
void append_keep_alive(std::vector<uint8_t>& out);
// A request sends the lists empty; a response fills them.
[[nodiscard]] bool append_supported_protocols(std::vector<uint8_t>& out,
                                              std::span<const uint16_t> protocols);
[[nodiscard]] bool append_supported_algorithms(std::vector<uint8_t>& out,
                                               std::span<const AlgorithmDescription> algorithms);
// False unless both keys have the same non-zero length and fit a record.
[[nodiscard]] bool append_fixed_key_request(std::vector<uint8_t>& out, std::span<const uint8_t> c2s,
                                            std::span<const uint8_t> s2c);
// False unless valid_server_name(@name).
[[nodiscard]] bool append_ntp_server_deny(std::vector<uint8_t>& out, std::string_view name);
// False unless valid_authentication_token(@token).
[[nodiscard]] bool append_authentication(std::vector<uint8_t>& out, std::string_view token);

}  // namespace nts
