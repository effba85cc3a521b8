// interleaved_table.cpp - the server's memory of replies that interleaved
// requests may name (see interleaved_table.hpp).
#include "server/interleaved_table.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace nanotime::ntp {

InterleavedTable::InterleavedTable(size_t memory_bytes, RandomSource& random)
    : hash_(random_siphash_key(random)) {
    const size_t budget_entries = std::max<size_t>(memory_bytes / sizeof(Entry), kWays);
    while (buckets_ * 2 * kWays <= budget_entries) buckets_ *= 2;
    entries_.resize(buckets_ * kWays);
}

size_t InterleavedTable::bucket_of(NtpTimestamp rx) {
    std::array<uint8_t, 8> message;
    std::memcpy(message.data(), &rx.raw, sizeof rx.raw);
    return static_cast<size_t>(hash_(message) & (buckets_ - 1));
}

InterleavedTable::Entry* InterleavedTable::find(const IpAddress& client, NtpTimestamp rx) {
    Entry* const bucket = &entries_[bucket_of(rx) * kWays];
    for (size_t way = 0; way < kWays; ++way) {
        if (bucket[way].used && bucket[way].rx == rx && bucket[way].client == client)
            return &bucket[way];
    }
    return nullptr;
}

void InterleavedTable::save(const IpAddress& client, NtpTimestamp rx, NtpInstant transmit) {
    Entry* const bucket = &entries_[bucket_of(rx) * kWays];
    Entry* victim = &bucket[0];
    for (size_t way = 0; way < kWays; ++way) {
        Entry& e = bucket[way];
        if (!e.used || (e.rx == rx && e.client == client)) {  // free, or this very entry
            victim = &e;
            break;
        }
        if (e.transmit < victim->transmit) victim = &e;
    }
    if (victim->used && !(victim->rx == rx && victim->client == client)) ++evictions_;
    *victim = Entry{rx, client, transmit, StampSource::Daemon, true};
}

bool InterleavedTable::update_transmit(const IpAddress& client, NtpTimestamp rx,
                                       NtpInstant transmit, StampSource source) {
    Entry* e = find(client, rx);
    if (e == nullptr) return false;
    const Nanoseconds delay = transmit - e->transmit;
    if (delay > kMaxStampDelay || delay < -kMaxStampDelay) return false;
    e->transmit = transmit;
    e->source = source;
    return true;
}

std::optional<SavedTransmit> InterleavedTable::take(const IpAddress& client, NtpTimestamp rx) {
    Entry* e = find(client, rx);
    if (e == nullptr) return std::nullopt;
    e->used = false;
    return SavedTransmit{e->transmit, e->source};
}

size_t InterleavedTable::tracked() const {
    return static_cast<size_t>(
        std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.used; }));
}

}  // namespace nanotime::ntp
