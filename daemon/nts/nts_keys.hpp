// The meeting point of NTS-KE and NTS-protected NTP (RFC 8915): the AEAD
// algorithms nanotimed knows, and the pair of keys a KE session exports for
// one client (C2S protects requests, S2C responses). The KE records and
// state machines (ke_*.hpp) produce NtsKeys; cookies (cookie.hpp) seal them
// for the server and open them again; the NTP extension fields use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nts {

// IANA "AEAD Algorithms" registry numbers (RFC 5116, RFC 8452).
enum class AeadAlgorithm : uint16_t {
    AesSivCmac256 = 15,  // AEAD_AES_SIV_CMAC_256, mandatory (RFC 8915 §5.1)
    Aes128GcmSiv = 30,   // AEAD_AES_128_GCM_SIV (RFC 8452)
};

// What nanotimed offers (client) and prefers (server) unless configured
// otherwise ([nts] aead_algorithms): AES-128-GCM-SIV first, as chrony >= 4.4
// does (16-octet keys: shorter cookies, 72 octets instead of 104), then the
// mandatory AES-SIV-CMAC-256 that every peer has (chrony 4.3, NTPsec 1.2).
inline constexpr uint16_t kDefaultAeadPreference[] = {
    static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv),
    static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256)};

// Key length in octets for @a: 32 for AES-SIV-CMAC-256 (two AES-128 keys),
// 16 for AES-128-GCM-SIV; nullopt for a number nanotimed does not know.
constexpr std::optional<size_t> aead_key_length(uint16_t a) {
    switch (a) {
        case static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256):
            return 32;
        case static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv):
            return 16;
        default:
            return std::nullopt;
    }
}

// The algorithm's name as RFC 5116 / RFC 8452 and the IANA registry spell
// it without the "AEAD_" prefix ([nts] aead_algorithms, nanotimectl
// authdata): "AES-SIV-CMAC-256", "AES-128-GCM-SIV"; nullptr for other ids.
constexpr const char* aead_name(uint16_t a) {
    switch (a) {
        case static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256):
            return "AES-SIV-CMAC-256";
        case static_cast<uint16_t>(AeadAlgorithm::Aes128GcmSiv):
            return "AES-128-GCM-SIV";
        default:
            return nullptr;
    }
}

// The keys one NTS-KE exchange exported (RFC 8915 §5.1: TLS exporter, label
// "EXPORTER-network-time-security", context = next protocol 0x0000, the
// AEAD id, then 0x00 for C2S or 0x01 for S2C). Both aead_key_length() long.
struct NtsKeys {
    uint16_t aead = static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256);
    std::vector<uint8_t> c2s;
    std::vector<uint8_t> s2c;

    friend bool operator==(const NtsKeys&, const NtsKeys&) = default;
};

// The NTS-KE exporter's label and the context for one direction.
inline constexpr char kExporterLabel[] = "EXPORTER-network-time-security";
inline std::vector<uint8_t> exporter_context(uint16_t aead, bool s2c) {
    return {0x00, 0x00, static_cast<uint8_t>(aead >> 8), static_cast<uint8_t>(aead & 0xff),
            static_cast<uint8_t>(s2c ? 0x01 : 0x00)};
}

}  // namespace nts
