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
//
// Each entry also counts what was done with its client's requests (chronyc
// clients: requests, drops, KoD, NTS, interleaved), so `nanotimectl clients`
// lists the clients this table holds: a bounded, recent view, never all
// clients ever seen. The counters saturate at 2^32 - 1.
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

// One client of the table as counted since it entered the table (or since
// the last reset_counters()).
struct RateLimitedClient {
    IpAddress client;  // the key: an IPv4 address or the IPv6 prefix
    NtpInstant last_seen;
    uint32_t requests = 0;     // every request checked (answered, KoD or dropped)
    uint32_t drops = 0;        // dropped over the limit
    uint32_t kods = 0;         // answered with a RATE kiss-o'-death
    uint32_t nts = 0;          // of the requests, NTS-protected ones
    uint32_t interleaved = 0;  // replies in interleaved mode
};

class RateLimiter {
  public:
    RateLimiter(RateLimitConfig config, RandomSource& random);

    // @nts: the request is NTS-protected; over the limit it is dropped, never
    // answered with a KoD (a RATE kiss-o'-death would be unauthenticated).
    RateDecision check(const IpAddress& client, NtpInstant now, bool nts = false);
    // Counts an interleaved reply to @client (if the table holds it).
    void count_interleaved(const IpAddress& client);

    // The clients held, the @max_rows seen most recently first.
    std::vector<RateLimitedClient> clients(size_t max_rows) const;
    // Zeroes every client's counters (chronyc clients -r); the limiting
    // state (tokens, KoD times) is kept.
    void reset_counters();

    size_t capacity() const { return entries_.size(); }
    size_t tracked_clients() const;
    uint64_t evictions() const { return evictions_; }

    static constexpr size_t kWays = 8;

  private:
    struct Entry {
        IpAddress client;
        bool used = false;
        bool kod_sent = false;
        NtpInstant last_seen;
        NtpInstant last_kod;
        double tokens = 0.0;
        uint32_t requests = 0;
        uint32_t drops = 0;
        uint32_t kods = 0;
        uint32_t nts = 0;
        uint32_t interleaved = 0;
    };

    IpAddress client_key(const IpAddress& address) const;
    size_t bucket_of(const IpAddress& key);
    // @key's way in @bucket (kWays entries), or null.
    static Entry* find(Entry* bucket, const IpAddress& key);

    RateLimitConfig config_;
    SipHash hash_;                // keyed from the injected RandomSource
    std::vector<Entry> entries_;  // buckets_ * kWays
    size_t buckets_ = 1;          // a power of two
    uint64_t evictions_ = 0;
};

}  // namespace nanotime::ntp
