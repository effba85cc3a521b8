// nts_ef.cpp - NTS extension field parsing and writing (see nts_ef.hpp).
#include "nts/nts_ef.hpp"

#include <algorithm>

namespace nts {
namespace {

size_t pad4(size_t n) {
    return (n + 3) / 4 * 4;
}

void store16(uint8_t* p, size_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

}  // namespace

const char* to_string(EfError error) {
    switch (error) {
        case EfError::TooShort:
            return "shorter than an NTP header";
        case EfError::FieldTooShort:
            return "extension field shorter than 16 octets";
        case EfError::FieldMisaligned:
            return "extension field length not a multiple of 4";
        case EfError::FieldTruncated:
            return "extension field runs past the packet";
        case EfError::DuplicateUniqueId:
            return "more than one unique identifier";
        case EfError::ShortUniqueId:
            return "unique identifier shorter than 32 octets";
        case EfError::DuplicateCookie:
            return "more than one cookie";
        case EfError::FieldAfterAuthenticator:
            return "extension field after the authenticator (or a second one)";
        case EfError::AuthenticatorMalformed:
            return "authenticator lengths do not fit the field";
        case EfError::ShortNonce:
            return "authenticator nonce shorter than 12 octets";
        case EfError::ShortCiphertext:
            return "authenticator ciphertext shorter than its tag";
    }
    return "unknown extension field error";
}

Result<NtsFields, EfError> parse_nts_fields(std::span<const uint8_t> packet) {
    if (packet.size() < kNtpHeaderLength) return unexpected(EfError::TooShort);
    NtsFields fields;
    std::array<size_t, kMaxPlaceholders> placeholder_lengths{};
    size_t placeholders = 0;
    EfError error{};
    bool failed = false;
    auto fail = [&](EfError e) {
        if (!failed) error = e;
        failed = true;
    };
    size_t offset = kNtpHeaderLength;
    const auto walked = for_each_field(
        packet.subspan(kNtpHeaderLength), [&](uint16_t type, std::span<const uint8_t> body) {
            const size_t field_offset = offset;
            offset += 4 + body.size();
            if (failed) return;
            if (fields.has_authenticator) return fail(EfError::FieldAfterAuthenticator);
            switch (static_cast<FieldType>(type)) {
                case FieldType::UniqueIdentifier:
                    if (!fields.unique_id.empty()) return fail(EfError::DuplicateUniqueId);
                    if (body.size() < kUniqueIdLength) return fail(EfError::ShortUniqueId);
                    fields.unique_id = body;
                    return;
                case FieldType::Cookie:
                    if (!fields.cookie.empty()) return fail(EfError::DuplicateCookie);
                    fields.cookie = body;
                    return;
                case FieldType::CookiePlaceholder:
                    if (placeholders < kMaxPlaceholders) {
                        placeholder_lengths[placeholders++] = body.size();
                    }
                    return;
                case FieldType::Authenticator: {
                    const size_t nonce_length = load16(body.data());
                    const size_t ciphertext_length = load16(body.data() + 2);
                    if (4 + pad4(nonce_length) + pad4(ciphertext_length) > body.size()) {
                        return fail(EfError::AuthenticatorMalformed);
                    }
                    if (nonce_length < kMinNonceLength) return fail(EfError::ShortNonce);
                    if (ciphertext_length < 16) return fail(EfError::ShortCiphertext);
                    fields.has_authenticator = true;
                    fields.authenticator_offset = field_offset;
                    fields.nonce = body.subspan(4, nonce_length);
                    fields.ciphertext = body.subspan(4 + pad4(nonce_length), ciphertext_length);
                    return;
                }
            }
            ++fields.unknown_fields;
        });
    if (!walked) return unexpected(walked.error());
    if (failed) return unexpected(error);
    if (!fields.cookie.empty()) {
        fields.placeholders = static_cast<size_t>(
            std::count(placeholder_lengths.begin(), placeholder_lengths.begin() + placeholders,
                       fields.cookie.size()));
    }
    return fields;
}

size_t FieldWriter::field_length(size_t body) {
    return std::max<size_t>(16, 4 + pad4(body));
}

size_t FieldWriter::authenticator_length(size_t nonce_length, size_t ciphertext_length) {
    return field_length(4 + pad4(nonce_length) + pad4(ciphertext_length));
}

bool FieldWriter::add(FieldType type, std::span<const uint8_t> body) {
    const size_t length = field_length(body.size());
    if (length > 0xffff || buffer_.size() - size_ < length) return false;
    uint8_t* p = buffer_.data() + size_;
    store16(p, static_cast<uint16_t>(type));
    store16(p + 2, length);
    std::copy(body.begin(), body.end(), p + 4);
    std::fill(p + 4 + body.size(), p + length, uint8_t{0});
    size_ += length;
    return true;
}

bool FieldWriter::add_zeros(FieldType type, size_t length) {
    const size_t total = field_length(length);
    if (total > 0xffff || buffer_.size() - size_ < total) return false;
    uint8_t* p = buffer_.data() + size_;
    store16(p, static_cast<uint16_t>(type));
    store16(p + 2, total);
    std::fill(p + 4, p + total, uint8_t{0});
    size_ += total;
    return true;
}

std::optional<FieldWriter::AuthenticatorSlot> FieldWriter::add_authenticator(
    size_t nonce_length, size_t ciphertext_length) {
    const size_t total = authenticator_length(nonce_length, ciphertext_length);
    if (total > 0xffff || buffer_.size() - size_ < total) return std::nullopt;
    uint8_t* p = buffer_.data() + size_;
    store16(p, static_cast<uint16_t>(FieldType::Authenticator));
    store16(p + 2, total);
    store16(p + 4, nonce_length);
    store16(p + 6, ciphertext_length);
    std::fill(p + 8, p + total, uint8_t{0});
    AuthenticatorSlot slot{buffer_.first(size_), std::span<uint8_t>(p + 8, nonce_length),
                           std::span<uint8_t>(p + 8 + pad4(nonce_length), ciphertext_length)};
    size_ += total;
    return slot;
}

}  // namespace nts
