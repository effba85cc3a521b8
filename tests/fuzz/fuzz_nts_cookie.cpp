// Fuzz target: NTS cookies as a server receives them (arbitrary octets
// opened against a fixed master key store), and the key file decoder. An
// input whose first octet is odd is a cookie, else a key file. Checks that
// an opened cookie re-seals and opens to the same keys, and that a decoded
// key file encodes and decodes to the same store.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "nts/cookie.hpp"

using namespace nts;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

constexpr int64_t kNow = 1'700'000'000;

struct Fixture {
    nanotime::ntp::SplitMix64 random{11};
    KeyStore store;
    Aead aead = std::move(*Aead::create(static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256)));
    Fixture() { store.rotate(kNow, random); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Fixture f;
    if (size == 0) return 0;
    const std::span<const uint8_t> rest(data + 1, size - 1);
    if (data[0] & 1) {
        const auto keys = open_cookie(f.aead, f.store, kNow, rest);
        if (!keys) return 0;
        check(rest.size() == cookie_length(keys->aead));
        std::array<uint8_t, kMaxCookieLength> again{};
        std::array<uint8_t, kCookieNonceLength> nonce{};
        auto n = seal_cookie(f.aead, *f.store.sealing_key(kNow), nonce, *keys, again);
        check(n.has_value());
        const auto reopened = open_cookie(f.aead, f.store, kNow, std::span(again).first(*n));
        check(reopened.has_value() && *reopened == *keys);
        return 0;
    }
    const auto store =
        KeyStore::decode(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
    if (!store) return 0;
    check(!store->keys().empty() && store->keys().size() <= kMaxStoredKeys);
    check(valid_policy(store->policy()));
    const auto again = KeyStore::decode(store->encode());
    check(again.has_value() && *again == *store);
    return 0;
}
