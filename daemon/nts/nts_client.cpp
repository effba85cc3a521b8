// nts_client.cpp - NTS request fields and response checks (see
// nts_client.hpp).
#include "nts/nts_client.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "nts/nts_server.hpp"

namespace nts {
namespace {

uint32_t load32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

}  // namespace

bool CookieJar::add(std::span<const uint8_t> cookie) {
    if (cookie.empty() || cookie.size() > kMaxJarCookieLength || cookie.size() % 4 != 0) {
        return false;
    }
    if (count_ == kJarCapacity) {
        head_ = (head_ + 1) % kJarCapacity;
        --count_;
    }
    Cookie& slot = slots_[(head_ + count_) % kJarCapacity];
    std::copy(cookie.begin(), cookie.end(), slot.bytes.begin());
    slot.length = cookie.size();
    ++count_;
    return true;
}

std::optional<CookieJar::Cookie> CookieJar::take() {
    if (count_ == 0) return std::nullopt;
    Cookie cookie = slots_[head_];
    slots_[head_] = Cookie{};  // the jar keeps no copy of what it handed out
    head_ = (head_ + 1) % kJarCapacity;
    --count_;
    return cookie;
}

const char* to_string(ResponseError error) {
    switch (error) {
        case ResponseError::Malformed:
            return "malformed NTS extension fields";
        case ResponseError::NoRequest:
            return "no NTS request outstanding";
        case ResponseError::MissingUniqueId:
            return "no unique identifier";
        case ResponseError::UniqueIdMismatch:
            return "unique identifier is not our request's";
        case ResponseError::MissingAuthenticator:
            return "no authenticator";
        case ResponseError::AuthenticationFailed:
            return "authenticator did not verify";
        case ResponseError::BadEncryptedFields:
            return "encrypted extension fields malformed";
    }
    return "unknown NTS response error";
}

NtsClient::NtsClient(const SessionKeys& keys, RandomSource& random, Aead aead)
    : keys_(keys), random_(&random), aead_(std::move(aead)) {}

Result<NtsClient, AeadError> NtsClient::create(const NtsKeys& keys,
                                               std::span<const std::vector<uint8_t>> cookies,
                                               RandomSource& random) {
    const auto session = SessionKeys::from(keys);
    if (!session) return unexpected(AeadError::BadKeyLength);
    auto aead = Aead::create(keys.aead);
    if (!aead) return unexpected(aead.error());
    NtsClient client(*session, random, std::move(*aead));
    for (const auto& cookie : cookies) client.jar_.add(cookie);
    return client;
}

Result<size_t, RequestError> NtsClient::build_request(
    std::span<const uint8_t, kNtpHeaderLength> header, std::span<uint8_t> out) {
    outstanding_ = false;
    auto cookie = jar_.take();
    if (!cookie) return unexpected(RequestError::NoCookie);
    if (out.size() < kNtpHeaderLength) return unexpected(RequestError::BufferTooSmall);
    std::copy(header.begin(), header.end(), out.begin());
    fill_random(*random_, unique_id_);
    // Ask for the cookie spent plus the ones missing from a full jar.
    const size_t placeholders = kJarCapacity - 1 - jar_.size();
    FieldWriter request(out, kNtpHeaderLength);
    bool fits = request.add(FieldType::UniqueIdentifier, unique_id_) &&
                request.add(FieldType::Cookie, cookie->view());
    for (size_t i = 0; fits && i < placeholders; ++i) {
        fits = request.add_zeros(FieldType::CookiePlaceholder, cookie->length);
    }
    auto slot =
        fits ? request.add_authenticator(aead_.nts_nonce_length(), kAeadTagLength) : std::nullopt;
    if (!slot) return unexpected(RequestError::BufferTooSmall);
    fill_random(*random_, slot->nonce);
    auto sealed = aead_.seal(keys_.c2s(), slot->nonce, slot->associated, {}, slot->ciphertext);
    if (!sealed) return unexpected(RequestError::CryptoFailure);
    outstanding_ = true;
    nak_ = false;
    return request.size();
}

Result<ResponseVerdict, ResponseError> NtsClient::check_response(
    std::span<const uint8_t> response) {
    const auto fields = parse_nts_fields(response);
    if (!fields) return unexpected(ResponseError::Malformed);
    if (!outstanding_) return unexpected(ResponseError::NoRequest);
    if (fields->unique_id.empty()) return unexpected(ResponseError::MissingUniqueId);
    if (fields->unique_id.size() != unique_id_.size() ||
        CRYPTO_memcmp(fields->unique_id.data(), unique_id_.data(), unique_id_.size()) != 0) {
        return unexpected(ResponseError::UniqueIdMismatch);
    }
    if (!fields->has_authenticator) {
        const uint8_t stratum = response[1];
        if (stratum == 0 && load32(response.data() + 12) == kKissNtsNak) {
            outstanding_ = false;
            nak_ = true;
            return ResponseVerdict::Nak;
        }
        return unexpected(ResponseError::MissingAuthenticator);
    }
    // RFC 8915 §5.6: the nonce is as long as the negotiated AEAD takes.
    if (!aead_.nts_nonce_acceptable(fields->nonce.size())) {
        return unexpected(ResponseError::Malformed);
    }
    auto plain =
        aead_.open(keys_.s2c(), fields->nonce, response.first(fields->authenticator_offset),
                   fields->ciphertext, scratch_);
    if (!plain) return unexpected(ResponseError::AuthenticationFailed);
    // Only an authentic response ends the request: a forgery must not stop
    // the real response from being accepted.
    outstanding_ = false;
    const std::span<const uint8_t> inner(scratch_.data(), *plain);
    const auto walked = for_each_field(inner, [](uint16_t, std::span<const uint8_t>) {});
    if (!walked) return unexpected(ResponseError::BadEncryptedFields);
    for_each_field(inner, [&](uint16_t type, std::span<const uint8_t> body) {
        if (type == static_cast<uint16_t>(FieldType::Cookie)) jar_.add(body);
    });
    return ResponseVerdict::Authentic;
}

}  // namespace nts
