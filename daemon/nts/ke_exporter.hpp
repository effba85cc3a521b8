// ke_exporter.hpp - how the NTS-KE state machines get key material without
// doing TLS: the caller hands them the TLS session's exporter (RFC 5705,
// TlsSession::export_keying_material) as a callback, and export_nts_keys()
// derives the C2S/S2C pair of RFC 8915 §5.1 through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "nts/nts_keys.hpp"

namespace nts {

// Exports @length octets for @label and @context; nullopt if it cannot (the
// handshake is not done, or the TLS library failed).
using KeyExporter = std::function<std::optional<std::vector<uint8_t>>(
    std::string_view label, std::span<const uint8_t> context, size_t length)>;

// The keys for next protocol NTPv4 and @aead: nullopt for an AEAD id without
// a known key length, or when the exporter fails or returns a wrong length.
inline std::optional<NtsKeys> export_nts_keys(const KeyExporter& exporter, uint16_t aead) {
    const auto length = aead_key_length(aead);
    if (!length || !exporter) return std::nullopt;
    NtsKeys keys;
    keys.aead = aead;
    auto c2s = exporter(kExporterLabel, exporter_context(aead, false), *length);
    auto s2c = exporter(kExporterLabel, exporter_context(aead, true), *length);
    if (!c2s || !s2c || c2s->size() != *length || s2c->size() != *length) return std::nullopt;
    keys.c2s = std::move(*c2s);
    keys.s2c = std::move(*s2c);
    return keys;
}

}  // namespace nts
