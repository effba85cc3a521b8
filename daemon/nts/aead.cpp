// aead.cpp - the AEAD facade: which engine serves which IANA id, names, and
// the argument checks every engine shares (see aead.hpp).
#include "nts/aead.hpp"

#include <openssl/evp.h>
#include <strings.h>

#include <string>

#include "nts/aead_gcm_siv.hpp"
#include "nts/aead_siv.hpp"

namespace nts {

const char* to_string(AeadError error) {
    switch (error) {
        case AeadError::UnknownAlgorithm:
            return "unknown AEAD algorithm";
        case AeadError::Unsupported:
            return "AEAD algorithm not available from this OpenSSL";
        case AeadError::BadKeyLength:
            return "wrong AEAD key length";
        case AeadError::BadNonceLength:
            return "wrong AEAD nonce length";
        case AeadError::OutputTooSmall:
            return "output buffer too small";
        case AeadError::TooShort:
            return "ciphertext shorter than the tag";
        case AeadError::TooLong:
            return "plaintext too long";
        case AeadError::AuthenticationFailed:
            return "authentication failed";
        case AeadError::CryptoFailure:
            return "OpenSSL failure";
    }
    return "unknown AEAD error";
}

bool aead_supported(uint16_t algorithm) {
    switch (algorithm) {
        case static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256):
            return AesSivCmac256::available();
        case static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv):
            return Aes128GcmSivComposed::available() || openssl_offers_gcm_siv();
        default:
            return false;
    }
}

bool openssl_offers_gcm_siv() {
    static const bool offers = [] {
        EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-128-GCM-SIV", nullptr);
        EVP_CIPHER_free(c);
        return c != nullptr;
    }();
    return offers;
}

std::optional<uint16_t> aead_from_name(std::string_view name) {
    for (AeadAlgorithm a : {AeadAlgorithm::AesSivCmac256, AeadAlgorithm::Aes128GcmSiv}) {
        const char* known = aead_name(static_cast<uint16_t>(a));
        const std::string wanted(name);
        if (strcasecmp(known, wanted.c_str()) == 0) return static_cast<uint16_t>(a);
    }
    return std::nullopt;
}

Aead::Aead(uint16_t algorithm, std::unique_ptr<AeadEngine> engine)
    : algorithm_(algorithm), engine_(std::move(engine)) {}
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;
Aead::~Aead() = default;

Result<Aead, AeadError> Aead::create(uint16_t algorithm) {
    if (!aead_key_length(algorithm)) return unexpected(AeadError::UnknownAlgorithm);
    if (algorithm == static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv)) {
        auto native = create_gcm_siv(true);
        if (native || native.error() != AeadError::Unsupported) return native;
        return create_gcm_siv(false);
    }
    auto siv = AesSivCmac256::create();
    if (!siv) return unexpected(siv.error());
    return Aead(algorithm, std::move(*siv));
}

Result<Aead, AeadError> Aead::create_gcm_siv(bool native) {
    const uint16_t id = static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv);
    if (native) {
        auto engine = Aes128GcmSivNative::create();
        if (!engine) return unexpected(engine.error());
        return Aead(id, std::move(*engine));
    }
    auto engine = Aes128GcmSivComposed::create();
    if (!engine) return unexpected(engine.error());
    return Aead(id, std::move(*engine));
}

Result<size_t, AeadError> Aead::seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     AdComponents associated, std::span<const uint8_t> plaintext,
                                     std::span<uint8_t> out) {
    return engine_->seal(key, nonce, associated, plaintext, out);
}

Result<size_t, AeadError> Aead::open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     AdComponents associated, std::span<const uint8_t> sealed,
                                     std::span<uint8_t> out) {
    return engine_->open(key, nonce, associated, sealed, out);
}

Result<size_t, AeadError> Aead::seal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     std::span<const uint8_t> associated,
                                     std::span<const uint8_t> plaintext, std::span<uint8_t> out) {
    const std::span<const uint8_t> components[] = {associated};
    return seal(key, nonce, components, plaintext, out);
}

Result<size_t, AeadError> Aead::open(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                     std::span<const uint8_t> associated,
                                     std::span<const uint8_t> sealed, std::span<uint8_t> out) {
    const std::span<const uint8_t> components[] = {associated};
    return open(key, nonce, components, sealed, out);
}

}  // namespace nts
