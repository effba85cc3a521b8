#include "server/rate_limiter.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace nanotime::ntp {
namespace {

void count(uint32_t& counter) {
    if (counter != std::numeric_limits<uint32_t>::max()) ++counter;
}

}  // namespace

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

RateLimiter::Entry* RateLimiter::find(Entry* bucket, const IpAddress& key) {
    for (size_t way = 0; way < kWays; ++way) {
        if (bucket[way].used && bucket[way].client == key) return &bucket[way];
    }
    return nullptr;
}

RateDecision RateLimiter::check(const IpAddress& client, NtpInstant now, bool nts) {
    const IpAddress key = client_key(client);
    Entry* const bucket = &entries_[bucket_of(key) * kWays];
    Entry* entry = find(bucket, key);
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
        *victim = Entry{};
        victim->client = key;
        victim->used = true;
        victim->last_seen = now;
        victim->last_kod = now;
        victim->tokens = config_.burst;
        entry = victim;
    } else {
        const double elapsed =
            std::max<double>(0.0, static_cast<double>((now - entry->last_seen).count()));
        entry->tokens = std::min(
            config_.burst, entry->tokens + elapsed / static_cast<double>(config_.interval.count()));
        entry->last_seen = now;
    }
    count(entry->requests);
    if (nts) count(entry->nts);
    if (entry->tokens >= 1.0) {
        entry->tokens -= 1.0;
        return RateDecision::Allow;
    }
    if (!nts && (!entry->kod_sent || now - entry->last_kod >= config_.kod_interval)) {
        entry->kod_sent = true;
        entry->last_kod = now;
        count(entry->kods);
        return RateDecision::KissOfDeath;
    }
    count(entry->drops);
    return RateDecision::Drop;
}

void RateLimiter::count_interleaved(const IpAddress& client) {
    const IpAddress key = client_key(client);
    if (Entry* entry = find(&entries_[bucket_of(key) * kWays], key)) count(entry->interleaved);
}

std::vector<RateLimitedClient> RateLimiter::clients(size_t max_rows) const {
    std::vector<RateLimitedClient> rows;
    for (const Entry& e : entries_) {
        if (!e.used) continue;
        rows.push_back({e.client, e.last_seen, e.requests, e.drops, e.kods, e.nts, e.interleaved});
    }
    const auto newer = [](const RateLimitedClient& a, const RateLimitedClient& b) {
        return a.last_seen > b.last_seen;
    };
    if (rows.size() > max_rows) {
        std::nth_element(rows.begin(), rows.begin() + static_cast<ptrdiff_t>(max_rows), rows.end(),
                         newer);
        rows.resize(max_rows);
    }
    std::sort(rows.begin(), rows.end(), newer);
    return rows;
}

void RateLimiter::reset_counters() {
    for (Entry& e : entries_) {
        e.requests = e.drops = e.kods = e.nts = e.interleaved = 0;
    }
}

size_t RateLimiter::tracked_clients() const {
    return static_cast<size_t>(
        std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.used; }));
}

}  // namespace nanotime::ntp
