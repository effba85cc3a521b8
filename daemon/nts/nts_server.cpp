// nts_server.cpp - checking NTS requests and writing NTS responses (see
// nts_server.hpp).
#include "nts/nts_server.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace nts {

const char* to_string(NtsDropReason reason) {
    switch (reason) {
        case NtsDropReason::None:
            return "none";
        case NtsDropReason::Malformed:
            return "malformed NTS extension fields";
        case NtsDropReason::MissingField:
            return "NTS request without unique identifier, cookie or authenticator";
        case NtsDropReason::AuthenticationFailed:
            return "NTS authenticator did not verify";
        case NtsDropReason::NoSealingKey:
            return "no master key to seal cookies with";
        case NtsDropReason::CryptoFailure:
            return "OpenSSL failure";
    }
    return "unknown NTS drop reason";
}

void fill_random(RandomSource& random, std::span<uint8_t> out) {
    for (size_t i = 0; i < out.size(); i += 8) {
        const uint64_t bits = random.next_u64();
        std::memcpy(out.data() + i, &bits, std::min<size_t>(8, out.size() - i));
    }
}

NtsServer::NtsServer(std::shared_ptr<const KeyStore> keys, RandomSource& random, Aead cookie_aead,
                     std::optional<Aead> gcm_siv)
    : keys_(std::move(keys)),
      random_(&random),
      cookie_aead_(std::move(cookie_aead)),
      gcm_siv_(std::move(gcm_siv)) {}

Result<NtsServer, AeadError> NtsServer::create(std::shared_ptr<const KeyStore> keys,
                                               RandomSource& random) {
    auto aead = Aead::create(static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256));
    if (!aead) return unexpected(aead.error());
    // Without GCM-SIV (no AES-ECB in OpenSSL) its cookies are answered
    // with a NAK, as for any AEAD this process lacks.
    auto gcm_siv = Aead::create(static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv));
    return NtsServer(std::move(keys), random, std::move(*aead),
                     gcm_siv ? std::optional<Aead>(std::move(*gcm_siv)) : std::nullopt);
}

Aead* NtsServer::session_aead(uint16_t algorithm) {
    if (algorithm == cookie_aead_.algorithm()) return &cookie_aead_;
    if (gcm_siv_ && algorithm == gcm_siv_->algorithm()) return &*gcm_siv_;
    return nullptr;
}

NtsRequest NtsServer::drop(NtsRequest request, NtsDropReason reason) {
    switch (reason) {
        case NtsDropReason::None:
            break;
        case NtsDropReason::Malformed:
            ++counters_.malformed;
            break;
        case NtsDropReason::MissingField:
            ++counters_.missing_field;
            break;
        case NtsDropReason::AuthenticationFailed:
            ++counters_.auth_failed;
            break;
        case NtsDropReason::NoSealingKey:
            ++counters_.no_sealing_key;
            break;
        case NtsDropReason::CryptoFailure:
            ++counters_.crypto_failure;
            break;
    }
    request.verdict = NtsVerdict::Drop;
    request.reason = reason;
    return request;
}

NtsRequest NtsServer::check(std::span<const uint8_t> packet, int64_t now) {
    NtsRequest request;
    request.request_length = packet.size();
    const auto fields = parse_nts_fields(packet);
    if (!fields) {
        // Broken fields are NTS only if they are ours; a plain request with a
        // broken unknown field was already refused by the NTP codec.
        return drop(request, NtsDropReason::Malformed);
    }
    if (!fields->any_nts()) return request;  // NotNts
    if (packet.size() > kMaxNtsPacket) return drop(request, NtsDropReason::Malformed);
    if (fields->unique_id.empty() || fields->cookie.empty() || !fields->has_authenticator) {
        return drop(request, NtsDropReason::MissingField);
    }
    request.unique_id = fields->unique_id;
    request.cookie_length = fields->cookie.size();
    const KeyStore* store = keys_.get();  // no refcount traffic shared across threads
    auto keys = store ? open_cookie(cookie_aead_, *store, now, fields->cookie)
                      : Result<SessionKeys, CookieError>(unexpected(CookieError::UnknownKey));
    Aead* aead = keys ? session_aead(keys->aead) : nullptr;
    if (aead == nullptr) {
        const CookieError why = keys ? CookieError::BadContents : keys.error();
        if (why == CookieError::CryptoFailure) return drop(request, NtsDropReason::CryptoFailure);
        ++counters_.nak;
        if (why == CookieError::UnknownKey) ++counters_.cookie_unknown_key;
        if (why == CookieError::AuthenticationFailed) ++counters_.cookie_auth_failed;
        if (why == CookieError::BadContents || why == CookieError::Malformed) {
            ++counters_.cookie_bad_contents;
        }
        request.verdict = NtsVerdict::Nak;
        return request;
    }
    // The client's encrypted fields (RFC 8915 allows some) are checked with
    // the rest but carry nothing the server acts on.
    // RFC 8915 §5.6: the nonce is as long as the session's AEAD takes.
    if (!aead->nts_nonce_acceptable(fields->nonce.size())) {
        return drop(request, NtsDropReason::Malformed);
    }
    auto plain = aead->open(keys->c2s(), fields->nonce, packet.first(fields->authenticator_offset),
                            fields->ciphertext, scratch_);
    if (!plain) {
        return drop(request, plain.error() == AeadError::AuthenticationFailed
                                 ? NtsDropReason::AuthenticationFailed
                                 : NtsDropReason::CryptoFailure);
    }
    OPENSSL_cleanse(scratch_.data(), *plain);
    request.keys = *keys;
    request.cookies = std::min(kMaxCookiesPerResponse, 1 + fields->placeholders);
    request.verdict = NtsVerdict::Authentic;
    return request;
}

Result<size_t, NtsDropReason> NtsServer::respond(const NtsRequest& request,
                                                 std::span<const uint8_t, kNtpHeaderLength> header,
                                                 int64_t now, std::span<uint8_t> out) {
    const auto fail = [&](NtsDropReason reason) {
        drop(request, reason);
        return unexpected(reason);
    };
    if (out.size() < kNtpHeaderLength) return fail(NtsDropReason::CryptoFailure);
    std::copy(header.begin(), header.end(), out.begin());
    FieldWriter reply(out.first(std::min(out.size(), request.request_length)), kNtpHeaderLength);
    if (!reply.add(FieldType::UniqueIdentifier, request.unique_id)) {
        return fail(NtsDropReason::Malformed);
    }
    if (request.verdict == NtsVerdict::Nak) return reply.size();
    if (request.verdict != NtsVerdict::Authentic) return fail(NtsDropReason::Malformed);

    const KeyStore* store = keys_.get();  // no refcount traffic shared across threads
    const MasterKey* master = store ? store->sealing_key(now) : nullptr;
    if (master == nullptr) return fail(NtsDropReason::NoSealingKey);
    Aead* aead = session_aead(request.keys.aead);
    if (aead == nullptr) return fail(NtsDropReason::CryptoFailure);
    const size_t nonce_length = aead->nts_nonce_length();
    // As many cookies as asked for and as fit in the request's size.
    const size_t cookie_field = FieldWriter::field_length(cookie_length(request.keys.aead));
    size_t cookies = request.cookies;
    while (cookies > 0 &&
           reply.size() + FieldWriter::authenticator_length(
                              nonce_length, kAeadTagLength + cookies * cookie_field) >
               request.request_length) {
        --cookies;
    }
    if (cookies == 0) return fail(NtsDropReason::Malformed);
    FieldWriter plain(scratch_, 0);
    for (size_t i = 0; i < cookies; ++i) {
        std::array<uint8_t, kMaxCookieLength> cookie{};
        std::array<uint8_t, kCookieNonceLength> nonce{};
        fill_random(*random_, nonce);
        auto sealed = seal_cookie(cookie_aead_, *master, nonce, request.keys, cookie);
        if (!sealed || !plain.add(FieldType::Cookie, std::span(cookie).first(*sealed))) {
            return fail(NtsDropReason::CryptoFailure);
        }
    }
    auto slot = reply.add_authenticator(nonce_length, Aead::sealed_length(plain.size()));
    if (!slot) return fail(NtsDropReason::CryptoFailure);
    fill_random(*random_, slot->nonce);
    auto sealed = aead->seal(request.keys.s2c(), slot->nonce, slot->associated,
                             std::span(scratch_).first(plain.size()), slot->ciphertext);
    OPENSSL_cleanse(scratch_.data(), plain.size());
    if (!sealed) return fail(NtsDropReason::CryptoFailure);
    ++counters_.authentic;
    return reply.size();
}

}  // namespace nts
