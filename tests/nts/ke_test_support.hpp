// ke_test_support.hpp - wire builders and fakes shared by the NTS-KE tests:
// records written out octet by octet (independently of the encoder under
// test), a deterministic exporter and a counting cookie source.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "nts/ke_exporter.hpp"
#include "nts/ke_records.hpp"
#include "nts/ke_server.hpp"

namespace nts::test {

using Bytes = std::vector<uint8_t>;

// One record exactly as RFC 8915 §4 lays it out.
inline Bytes rec(bool critical, uint16_t type, const Bytes& body) {
    const unsigned word = type | (critical ? 0x8000u : 0u);
    // Sized once and filled: GCC 12's -Warray-bounds misreads an insert
    // after a four-byte initializer list in the Release build.
    Bytes out(4 + body.size());
    out[0] = static_cast<uint8_t>(word >> 8);
    out[1] = static_cast<uint8_t>(word & 0xff);
    out[2] = static_cast<uint8_t>(body.size() >> 8);
    out[3] = static_cast<uint8_t>(body.size() & 0xff);
    std::copy(body.begin(), body.end(), out.begin() + 4);
    return out;
}

inline Bytes text(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

inline Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline Bytes eom() {
    return rec(true, 0, {});
}

// The exporter's output is a function of label, context and length, so a
// test can recompute what keys a session must have derived.
inline std::optional<Bytes> fake_export(std::string_view label, std::span<const uint8_t> context,
                                        size_t length) {
    Bytes out(length);
    uint8_t acc = static_cast<uint8_t>(label.size());
    for (const uint8_t c : context) acc = static_cast<uint8_t>(acc * 31 + c);
    for (size_t i = 0; i < length; ++i) out[i] = static_cast<uint8_t>(acc + i);
    return out;
}

inline KeyExporter fake_exporter() {
    return fake_export;
}

inline KeyExporter failing_exporter() {
    return [](std::string_view, std::span<const uint8_t>, size_t) -> std::optional<Bytes> {
        return std::nullopt;
    };
}

// Cookie n is {aead, c2s[0], s2c[0], n, then padding to 100 octets}: the
// tests can tell which keys and which call made it.
class FakeCookieSource : public CookieSource {
  public:
    std::vector<uint8_t> make_cookie(const NtsKeys& keys) override {
        ++calls;
        if (fail) return {};
        Bytes cookie = {static_cast<uint8_t>(keys.aead), keys.c2s.at(0), keys.s2c.at(0),
                        static_cast<uint8_t>(calls)};
        cookie.resize(100, 0xc0);
        return cookie;
    }
    int calls = 0;
    bool fail = false;
};

}  // namespace nts::test
