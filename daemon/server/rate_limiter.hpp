// rate_limiter.hpp - per-client request rate limiting in bounded memory.
//
// Each client (IPv4 address, or IPv6 /64 so that one host cannot rotate
// through its subnet) has a token bucket: `burst` tokens, refilled at one per
// `interval`. A request that finds a token is answered. One that does not is
// answered with a RATE kiss-o'-death at most once per `kod_interval`, and
// dropped otherwise, so a flood gets neither amplification nor a reply
// stream.
//
// The table is allocated once: `memory_bytes` / sizeof(entry) entries in
// 8-way buckets, indexed by SipHash-2-4 keyed with a secret from the
// injected RandomSource (an attacker cannot aim collisions at a victim's
// bucket; util/siphash.hpp). A
// new client takes a free way or evicts the way seen longest ago in its
// bucket. Eviction only ever forgets a client, which makes limiting more
// lenient for it, never stricter.
#pragma once

#include <cstdint>
#include <vector>

#include "net/socket_address.hpp"
#include "time/ntp_time.hpp"
#include "util/random.hpp"
#include "util/siphash.hpp"

namespace nanotime::ntp {

struct RateLimitConfig {
    Nanoseconds interval{2LL * kNanosPerSecond};      // one token per this
    double burst = 8.0;                               // tokens, at most
    Nanoseconds kod_interval{8LL * kNanosPerSecond};  // between KoDs to one client
    size_t memory_bytes = size_t{512} * 1024;         // table size budget
    uint8_t ipv6_prefix = 64;                         // bits that name an IPv6 client
};

enum class RateDecision : uint8_t { Allow, KissOfDeath, Drop };

class RateLimiter {
  public:
    RateLimiter(RateLimitConfig config, RandomSource& random);

    RateDecision check(const IpAddress& client, NtpInstant now);

    size_t capacity() const { return entries_.size(); }
    size_t tracked_clients() const;
    uint64_t evictions() const { return evictions_; }

    static constexpr size_t kWays = 8;

  private:
    struct Entry {
        IpAddress client;
        NtpInstant last_seen;
        NtpInstant last_kod;
        double tokens = 0.0;
        bool used = false;
        bool kod_sent = false;
    };

    IpAddress client_key(const IpAddress& address) const;
    size_t bucket_of(const IpAddress& key);

    RateLimitConfig config_;
    SipHash hash_;                // keyed from the injected RandomSource
    std::vector<Entry> entries_;  // buckets_ * kWays
    size_t buckets_ = 1;          // a power of two
    uint64_t evictions_ = 0;
};

}  // namespace nanotime::ntp
