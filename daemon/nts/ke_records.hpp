// ke_records.hpp - the NTS-KE record layer (RFC 8915 §4): the wire format of
// the records a key-exchange request and response are made of, an
// incremental decoder that checks each record's body against its type, and
// an encoder per record type.
//
// Wire format of one record (all integers in network byte order):
//   bit 0       C, the critical bit (0x8000 of the first 16-bit word)
//   bits 1-15   record type
//   16 bits     body length in octets (0..65535)
//   body
// A message is a sequence of records ending with End of Message. TLS may
// deliver it in any chunking, so RecordDecoder takes bytes as they arrive and
// hands out each record once it is complete. It never reads past its input
// and never throws: hostile bytes give a RecordError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace nts {

using nanotime::ntp::Result;

// IANA "Network Time Security Key Establishment Record Types" (RFC 8915 §7.4).
enum class RecordType : uint16_t {
    EndOfMessage = 0,
    NextProtocol = 1,  // NTS Next Protocol Negotiation
    Error = 2,
    Warning = 3,
    AeadAlgorithm = 4,  // AEAD Algorithm Negotiation
    NewCookie = 5,      // New Cookie for NTPv4
    NtpServer = 6,      // NTPv4 Server Negotiation
    NtpPort = 7,        // NTPv4 Port Negotiation
};

inline constexpr uint16_t kCriticalBit = 0x8000;
inline constexpr uint16_t kRecordTypeMask = 0x7fff;
inline constexpr size_t kRecordHeaderLength = 4;  // octets: type word + body length
inline constexpr size_t kMaxRecordBodyLength = 0xffff;

// "NTS Next Protocols" registry: the only protocol nanotimed speaks.
inline constexpr uint16_t kNextProtocolNtpV4 = 0;

// "NTS Error Codes" registry (RFC 8915 §7.5). No warning codes are defined.
enum class KeErrorCode : uint16_t {
    UnrecognizedCriticalRecord = 0,
    BadRequest = 1,
    InternalServerError = 2,
};

// Longest NTPv4 Server Negotiation body accepted or sent, octets: a DNS name
// is at most 253 characters (255 with a final dot and slack), an IPv6
// literal at most 45.
inline constexpr size_t kMaxServerNameLength = 255;

// Message size limits, octets of one whole message up to End of Message.
// A request (8915 §4) is a handful of short records: 16 KiB is generous. A
// response carries 8 cookies of ~100-200 octets each (more with a larger
// AEAD or a bigger cookie format), so the client allows 64 KiB.
inline constexpr size_t kDefaultMaxRequestBytes = size_t{16} * 1024;
inline constexpr size_t kDefaultMaxResponseBytes = size_t{64} * 1024;

// One decoded record. @type excludes the critical bit. Unknown types decode
// too (non-critical ones are kept so a caller can count or skip them).
struct Record {
    bool critical = false;
    uint16_t type = 0;
    std::vector<uint8_t> body;

    bool is(RecordType t) const { return type == static_cast<uint16_t>(t); }
    friend bool operator==(const Record&, const Record&) = default;
};

// Why a message or a record was refused.
enum class RecordError : uint8_t {
    MessageTooLong,        // more octets than the limit before End of Message
    EndOfMessageNotEmpty,  // End of Message carries a body
    CriticalBitMissing,    // End of Message, Next Protocol, Error, Warning must be critical
    OddListLength,         // Next Protocol / AEAD list not a whole number of 16-bit ids
    BadCodeLength,         // Error / Warning body not exactly 2 octets
    BadPortLength,         // Port Negotiation body not exactly 2 octets
    EmptyCookie,           // New Cookie with no octets
    BadServerName,         // not a non-empty ASCII host name or IP literal <= 255 octets
    UnrecognizedCritical,  // unknown record type with the critical bit set
    // The NTS pool records (ke_pool_records.hpp).
    BadFixedKeyLength,       // Fixed Key body empty, odd, or not twice the AEAD's key length
    BadAuthenticationToken,  // Authentication body empty, too long or not printable ASCII
    BadAlgorithmList,        // Supported Algorithm List not whole (id, key length) pairs
    BadDeniedServer,         // NTP Server Deny body not a host name or IP address
};

std::string_view to_string(RecordError error);
// "End of Message", "AEAD Algorithm Negotiation", ..., "unknown" for others.
std::string_view record_type_name(uint16_t type);

// Checks @record's body against its type: nullopt if well formed. An unknown
// non-critical type is well formed (RFC 8915 §4: the recipient ignores it).
// The NTS pool types are checked by validate_pool_record().
std::optional<RecordError> validate_record(const Record& record);

// True for what the NTPv4 Server Negotiation record may carry: an IPv4
// dotted quad, an IPv6 literal without brackets, or a host name of letters,
// digits, '-' and '.' (a final dot allowed), 1..kMaxServerNameLength octets.
bool valid_server_name(std::string_view name);

// The 16-bit ids of a Next Protocol or AEAD body (even length, validated).
std::vector<uint16_t> read_u16_list(std::span<const uint8_t> body);
// The 16-bit value of an Error, Warning or Port body (2 octets, validated).
uint16_t read_u16(std::span<const uint8_t> body);
std::string_view read_text(std::span<const uint8_t> body);

// Takes the octets of one message in any chunking and returns its records
// one at a time, each validated with validate_record(). After End of Message
// it returns no more records: later octets are counted (trailing_bytes())
// and kept, up to the limit, for restart(). After an error it stays failed.
class RecordDecoder {
  public:
    explicit RecordDecoder(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

    // Appends @bytes. Octets beyond the limit are not stored: next() then
    // reports MessageTooLong once the records before them are taken. It
    // also does so as soon as a record header announces a body that cannot
    // end within the limit, or when the records taken leave less than a
    // header's room for End of Message, without waiting for more octets.
    void feed(std::span<const uint8_t> bytes);
    // The next complete record; nullopt when more octets are needed (or
    // after End of Message was returned); an error when the stream is bad.
    Result<std::optional<Record>, RecordError> next();

    // After End of Message: the octets after it begin the next message (an
    // NTS pool Keep Alive session sends several requests on one stream).
    void restart();

    bool end_of_message() const { return end_of_message_; }
    bool failed() const { return error_.has_value(); }
    size_t message_bytes() const { return received_; }   // octets of the message so far
    size_t trailing_bytes() const { return trailing_; }  // octets after End of Message

  private:
    size_t max_message_bytes_;
    std::vector<uint8_t> buffer_;  // undecoded octets start at buffer_[offset_]
    size_t offset_ = 0;
    size_t received_ = 0;
    size_t trailing_ = 0;
    bool overflow_ = false;
    bool rest_overflow_ = false;  // octets after End of Message beyond the limit were dropped
    bool end_of_message_ = false;
    std::optional<RecordError> error_;
};

// Encoders: each appends one record to @out. Those that can refuse their
// input return false and leave @out unchanged.
[[nodiscard]] bool append_record(std::vector<uint8_t>& out, bool critical, uint16_t type,
                                 std::span<const uint8_t> body);
void append_end_of_message(std::vector<uint8_t>& out);
// Next Protocol and AEAD lists: false above 32767 ids (the body limit).
[[nodiscard]] bool append_next_protocol(std::vector<uint8_t>& out,
                                        std::span<const uint16_t> protocols);
void append_error(std::vector<uint8_t>& out, KeErrorCode code);
void append_warning(std::vector<uint8_t>& out, uint16_t code);
[[nodiscard]] bool append_aead_algorithms(std::vector<uint8_t>& out, bool critical,
                                          std::span<const uint16_t> algorithms);
// False for an empty or over-long (> 65535 octets) cookie.
[[nodiscard]] bool append_new_cookie(std::vector<uint8_t>& out, std::span<const uint8_t> cookie);
// False unless valid_server_name(@name).
[[nodiscard]] bool append_ntp_server(std::vector<uint8_t>& out, bool critical,
                                     std::string_view name);
void append_ntp_port(std::vector<uint8_t>& out, bool critical, uint16_t port);

}  // namespace nts
