// bench_hash - what the rate limiter's keyed hash costs per request:
// SipHash-2-4 through OpenSSL's EVP_MAC (util/siphash) against the splitmix64
// mixing it replaced (kept here only as the baseline), and a whole
// RateLimiter::check. Report Release figures (tests/bench/README.md).
#include <benchmark/benchmark.h>

#include <cstring>

#include "server/rate_limiter.hpp"
#include "util/siphash.hpp"

namespace {

using namespace nanotime::ntp;

// The former RateLimiter::bucket_of hash, verbatim but for the key argument.
uint64_t splitmix_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t splitmix_keyed(uint64_t key, const IpAddress& address) {
    uint64_t words[2];
    std::memcpy(words, address.bytes.data(), sizeof words);
    const uint64_t h = splitmix_mix(key ^ words[0]);
    return splitmix_mix(h ^ words[1] ^ static_cast<uint64_t>(address.family));
}

void BM_SplitmixKeyedHash(benchmark::State& state) {
    IpAddress address = IpAddress::v4(192, 0, 2, 1);
    const uint64_t key = 0x0123456789abcdefULL;
    for (auto _ : state) {
        address.bytes[3]++;
        benchmark::DoNotOptimize(splitmix_keyed(key, address));
    }
}
BENCHMARK(BM_SplitmixKeyedHash);

// The 17-byte message RateLimiter hashes: family octet + 16 address octets.
void BM_SipHashEvpMac(benchmark::State& state) {
    std::array<uint8_t, 16> key{};
    key[0] = 1;
    SipHash hash(key);
    std::array<uint8_t, 17> message{};
    for (auto _ : state) {
        message[4]++;
        benchmark::DoNotOptimize(hash(message));
    }
}
BENCHMARK(BM_SipHashEvpMac);

// A whole check (hash, bucket scan, token arithmetic) over 4096 clients.
void BM_RateLimiterCheck(benchmark::State& state) {
    SplitMix64 random(1);
    RateLimiter limiter(RateLimitConfig{}, random);
    NtpInstant now = NtpInstant::from_unix(Nanoseconds(1'780'000'000LL * 1'000'000'000));
    uint32_t client = 0;
    for (auto _ : state) {
        ++client;
        now += Nanoseconds(1000);
        benchmark::DoNotOptimize(
            limiter.check(IpAddress::v4(10, static_cast<uint8_t>(client >> 8 & 15),
                                        static_cast<uint8_t>(client), 1),
                          now));
    }
}
BENCHMARK(BM_RateLimiterCheck);

}  // namespace

BENCHMARK_MAIN();
