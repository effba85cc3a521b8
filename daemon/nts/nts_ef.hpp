// nts_ef.hpp - the NTS extension fields of NTP packets (RFC 8915 §5.3-5.7):
// parsing with the exact place of every field, and writing.
//
//   0x0104 Unique Identifier        body: >= 32 random octets (we send 32)
//   0x0204 NTS Cookie               body: one cookie (cookie.hpp)
//   0x0304 NTS Cookie Placeholder   body: zeros, as long as the cookie
//   0x0404 NTS Authenticator and Encrypted Extension Fields, body:
//          nonce length (2) ‖ ciphertext length (2) ‖ nonce, zero-padded to
//          4 ‖ ciphertext, zero-padded to 4 ‖ additional padding
// The authenticator's associated data is the packet from its first octet up
// to the authenticator field; its plaintext is itself extension fields.
//
// Strict, allocation-free, total: every field obeys RFC 7822 (length >= 16,
// a multiple of 4, within the packet; no MAC may follow), at most one unique
// identifier (>= 32 octets), one cookie and one authenticator, the
// authenticator last, its nonce >= 12 octets (AES-128-GCM-SIV's only length;
// the length the negotiated AEAD takes is checked once the cookie says which
// it is: AeadEngine::nts_nonce_acceptable), its ciphertext >= 16 (the tag)
// and both inside the field. Placeholders and unknown fields are counted; a placeholder
// whose length differs from the cookie's is ignored (RFC 8915 §5.5).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "util/result.hpp"

namespace nts {

using nanotime::ntp::Result;
using nanotime::ntp::unexpected;

enum class FieldType : uint16_t {
    UniqueIdentifier = 0x0104,
    Cookie = 0x0204,
    CookiePlaceholder = 0x0304,
    Authenticator = 0x0404,
};

inline constexpr size_t kNtpHeaderLength = 48;
inline constexpr size_t kUniqueIdLength = 32;   // octets; also the minimum
inline constexpr size_t kMinNonceLength = 12;   // the shortest any AEAD takes (GCM-SIV)
inline constexpr size_t kMaxPlaceholders = 16;  // more are not counted

enum class EfError : uint8_t {
    TooShort,         // no NTP header
    FieldTooShort,    // length < 16 or remainder < 16
    FieldMisaligned,  // length not a multiple of 4
    FieldTruncated,   // field runs past the packet
    DuplicateUniqueId,
    ShortUniqueId,  // < 32 octets
    DuplicateCookie,
    FieldAfterAuthenticator,  // the authenticator must be last
    AuthenticatorMalformed,   // nonce/ciphertext lengths do not fit the field
    ShortNonce,               // < 12 octets
    ShortCiphertext,          // < 16 octets (the tag)
};
const char* to_string(EfError error);

// Where the NTS fields are; spans point into the parsed packet.
struct NtsFields {
    std::span<const uint8_t> unique_id;  // body, empty if absent
    std::span<const uint8_t> cookie;     // body, empty if absent
    size_t placeholders = 0;             // of the cookie's length
    size_t unknown_fields = 0;           // other types (before the authenticator)
    bool has_authenticator = false;
    size_t authenticator_offset = 0;  // = length of the associated data
    std::span<const uint8_t> nonce;
    std::span<const uint8_t> ciphertext;

    bool any_nts() const { return !cookie.empty() || has_authenticator; }
};

// The NTS fields of a whole NTP packet (header included in @packet).
Result<NtsFields, EfError> parse_nts_fields(std::span<const uint8_t> packet);

// Calls @visit(type, body) for each field of @fields, a run of extension
// fields (the authenticator's plaintext), after checking the run is well
// formed; returns the number of fields or the first structural error.
template <typename Visit>
Result<size_t, EfError> for_each_field(std::span<const uint8_t> fields, Visit&& visit);

// Appends extension fields to a packet being built in a caller's buffer.
// Every add returns false (and writes nothing) when the field does not fit.
class FieldWriter {
  public:
    // @buffer holds the packet; fields are written from @offset on.
    FieldWriter(std::span<uint8_t> buffer, size_t offset) : buffer_(buffer), size_(offset) {}

    // A field with @body, zero-padded to a multiple of 4 and to 16 octets.
    bool add(FieldType type, std::span<const uint8_t> body);
    // A field whose body is @length zero octets (a placeholder).
    bool add_zeros(FieldType type, size_t length);

    // An authenticator for a @nonce_length nonce and @ciphertext_length
    // ciphertext, written with zero nonce and ciphertext for the caller to
    // fill: the associated data is everything written before it.
    struct AuthenticatorSlot {
        std::span<const uint8_t> associated;
        std::span<uint8_t> nonce;
        std::span<uint8_t> ciphertext;
    };
    std::optional<AuthenticatorSlot> add_authenticator(size_t nonce_length,
                                                       size_t ciphertext_length);

    // Octets of a field carrying a @body-octet body.
    static size_t field_length(size_t body);
    static size_t authenticator_length(size_t nonce_length, size_t ciphertext_length);

    size_t size() const { return size_; }  // the packet so far, octets

  private:
    std::span<uint8_t> buffer_;
    size_t size_;
};

// ---- template implementation ----

inline uint16_t load16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

template <typename Visit>
Result<size_t, EfError> for_each_field(std::span<const uint8_t> fields, Visit&& visit) {
    size_t offset = 0;
    size_t count = 0;
    while (offset < fields.size()) {
        const size_t remainder = fields.size() - offset;
        if (remainder < 16) return unexpected(EfError::FieldTooShort);
        const size_t length = load16(fields.data() + offset + 2);
        if (length < 16) return unexpected(EfError::FieldTooShort);
        if (length % 4 != 0) return unexpected(EfError::FieldMisaligned);
        if (length > remainder) return unexpected(EfError::FieldTruncated);
        visit(load16(fields.data() + offset), fields.subspan(offset + 4, length - 4));
        offset += length;
        ++count;
    }
    return count;
}

}  // namespace nts
