#include "server/rate_limiter.hpp"

#include <algorithm>
#include <cstring>

namespace nanotime::ntp {

RateLimiter::RateLimiter(RateLimitConfig config, RandomSource& random)
    : config_(config), hash_(random_siphash_key(random)) {
    const size_t budget_entries = std::max<size_t>(config_.memory_bytes / sizeof(Entry), kWays);
    while (buckets_ * 2 * kWays <= budget_entries) buckets_ *= 2;
    entries_.resize(buckets_ * kWays);
}

IpAddress RateLimiter::client_key(const IpAddress& address) const {
    IpAddress key = address.unmapped();
    if (key.family == AddressFamily::Ipv6) {
        for (unsigned bit = config_.ipv6_prefix; bit < 128; ++bit) {
            key.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
        }
    }
    return key;
}

size_t RateLimiter::bucket_of(const IpAddress& key) {
    // The family octet keeps 1.2.3.4 and 0102:0304:: apart.
    std::array<uint8_t, 17> message;
    message[0] = static_cast<uint8_t>(key.family);
    std::memcpy(message.data() + 1, key.bytes.data(), 16);
    return static_cast<size_t>(hash_(message) & (buckets_ - 1));
}

RateDecision RateLimiter::check(const IpAddress& client, NtpInstant now) {
    const IpAddress key = client_key(client);
    Entry* const bucket = &entries_[bucket_of(key) * kWays];
    Entry* entry = nullptr;
    for (size_t way = 0; way < kWays; ++way) {
        if (bucket[way].used && bucket[way].client == key) {
            entry = &bucket[way];
            break;
        }
    }
    if (entry == nullptr) {
        Entry* victim = &bucket[0];
        for (size_t way = 0; way < kWays; ++way) {
            if (!bucket[way].used) {
                victim = &bucket[way];
                break;
            }
            if (bucket[way].last_seen < victim->last_seen) victim = &bucket[way];
        }
        if (victim->used) ++evictions_;
        *victim = Entry{key, now, now, config_.burst, true, false};
        entry = victim;
    } else {
        const double elapsed =
            std::max<double>(0.0, static_cast<double>((now - entry->last_seen).count()));
        entry->tokens = std::min(
            config_.burst, entry->tokens + elapsed / static_cast<double>(config_.interval.count()));
        entry->last_seen = now;
    }
    if (entry->tokens >= 1.0) {
        entry->tokens -= 1.0;
        return RateDecision::Allow;
    }
    if (!entry->kod_sent || now - entry->last_kod >= config_.kod_interval) {
        entry->kod_sent = true;
        entry->last_kod = now;
        return RateDecision::KissOfDeath;
    }
    return RateDecision::Drop;
}

size_t RateLimiter::tracked_clients() const {
    return static_cast<size_t>(
        std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.used; }));
}

}  // namespace nanotime::ntp
