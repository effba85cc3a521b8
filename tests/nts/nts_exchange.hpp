// nts_exchange.hpp - a server with a key store and a client holding cookies
// from it, as NTS-KE would leave them, for the NTS tests and fuzz targets.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "nts/nts_client.hpp"
#include "nts/nts_server.hpp"

namespace nts::test {

inline constexpr int64_t kNow = 1'700'000'000;  // Unix seconds

inline std::array<uint8_t, kNtpHeaderLength> client_header() {
    std::array<uint8_t, kNtpHeaderLength> h{};
    h[0] = 0x23;                                                      // LI 0, NTPv4, mode 3
    for (size_t i = 40; i < 48; ++i) h[i] = static_cast<uint8_t>(i);  // transmit time
    return h;
}

inline std::array<uint8_t, kNtpHeaderLength> server_header(const uint8_t* request) {
    std::array<uint8_t, kNtpHeaderLength> h{};
    h[0] = 0x24;                                            // LI 0, NTPv4, mode 4
    h[1] = 2;                                               // stratum
    std::copy(request + 40, request + 48, h.begin() + 24);  // origin = their transmit
    return h;
}

inline std::array<uint8_t, kNtpHeaderLength> nak_header(const uint8_t* request) {
    auto h = server_header(request);
    h[0] = 0xe4;  // LI 3 (unsynchronized)
    h[1] = 0;
    h[12] = 'N', h[13] = 'T', h[14] = 'S', h[15] = 'N';
    return h;
}

struct Exchange {
    nanotime::ntp::SplitMix64 server_random{11};
    nanotime::ntp::SplitMix64 client_random{12};
    std::shared_ptr<KeyStore> store = std::make_shared<KeyStore>();
    NtsKeys keys;
    std::optional<NtsServer> server;
    std::optional<NtsClient> client;

    // @aead: the algorithm NTS-KE agreed (15 or 30).
    explicit Exchange(size_t cookies = kJarCapacity,
                      uint16_t aead = static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256)) {
        store->rotate(kNow, server_random);
        server.emplace(std::move(*NtsServer::create(store, server_random)));
        keys.aead = aead;
        const size_t length = *aead_key_length(aead);
        keys.c2s.assign(length, 0);
        keys.s2c.assign(length, 0);
        for (size_t i = 0; i < length; ++i) {
            keys.c2s[i] = static_cast<uint8_t>(3 * i + 1);
            keys.s2c[i] = static_cast<uint8_t>(5 * i + 2);
        }
        // The cookies NTS-KE would have sent, sealed with the server's key
        // (always AES-SIV-CMAC-256, whatever the session's AEAD).
        auto cookie_aead = Aead::create(static_cast<uint16_t>(AeadAlgorithm::AesSivCmac256));
        std::vector<std::vector<uint8_t>> jar;
        for (size_t i = 0; i < cookies; ++i) {
            std::vector<uint8_t> cookie(kMaxCookieLength);
            std::array<uint8_t, kCookieNonceLength> nonce{};
            fill_random(server_random, nonce);
            auto n = seal_cookie(*cookie_aead, *store->sealing_key(kNow), nonce,
                                 *SessionKeys::from(keys), cookie);
            cookie.resize(*n);
            jar.push_back(cookie);
        }
        client.emplace(std::move(*NtsClient::create(keys, jar, client_random)));
    }

    std::vector<uint8_t> request() {
        std::vector<uint8_t> out(kMaxNtsPacket);
        auto n = client->build_request(client_header(), out);
        out.resize(n.has_value() ? *n : 0);
        return out;
    }

    // The server's answer to @request: empty if it drops it.
    std::vector<uint8_t> answer(const std::vector<uint8_t>& request, int64_t now = kNow) {
        const NtsRequest checked = server->check(request, now);
        if (checked.verdict != NtsVerdict::Authentic && checked.verdict != NtsVerdict::Nak) {
            return {};
        }
        const auto header = checked.verdict == NtsVerdict::Nak ? nak_header(request.data())
                                                               : server_header(request.data());
        std::vector<uint8_t> out(kMaxNtsPacket);
        auto n = server->respond(checked, header, now, out);
        out.resize(n.has_value() ? *n : 0);
        return out;
    }
};

}  // namespace nts::test
