// interleaved_table.hpp - what the server remembers to answer in interleaved
// basic mode (RFC 5905 §9.1 interleaved, as chrony and ntpd do it).
//
// In interleaved mode a client's request names, in its origin field, the
// receive timestamp of the server's previous reply; the server answers with
// the transmit time of that previous reply, taken by the kernel once the
// datagram left, instead of the daemon's guess before it was sent. So for
// every reply that may be followed by an interleaved request the server keeps
// {receive field sent, client, transmit time, stamp source}.
//
// Only requests that look interleaved are remembered (origin with the low bit
// set, which the server puts only in its receive fields, and receive field
// different from transmit field, see NtpServer::handle): basic-mode clients
// cost nothing here. The table is allocated once, like the rate limiter's:
// `memory_bytes` / sizeof(entry) entries in 8-way buckets indexed by
// SipHash-2-4 of the receive timestamp with a secret key; a new entry takes a
// free way or the oldest one. Losing an entry only costs the client one basic
// reply. An entry is used once (taken), so a replayed request cannot fetch the
// same transmit time twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "net/socket_address.hpp"
#include "time/ntp_time.hpp"
#include "time/stamp_source.hpp"
#include "util/random.hpp"
#include "util/siphash.hpp"

namespace nanotime::ntp {

struct SavedTransmit {
    NtpInstant transmit;
    StampSource source = StampSource::Daemon;
};

class InterleavedTable {
  public:
    InterleavedTable(size_t memory_bytes, RandomSource& random);

    // A reply with receive field @rx went (is about to go) to @client; the
    // daemon's own reading of its transmit time is @transmit.
    void save(const IpAddress& client, NtpTimestamp rx, NtpInstant transmit);
    // The kernel's (or NIC's) transmit stamp of that reply. Ignored when the
    // entry is gone, or the stamp is more than a second from the daemon's
    // reading (a stamp matched to the wrong datagram). Returns whether kept.
    bool update_transmit(const IpAddress& client, NtpTimestamp rx, NtpInstant transmit,
                         StampSource source);
    // The transmit time of the reply to @client whose receive field was @rx,
    // which is then forgotten; nothing if unknown.
    std::optional<SavedTransmit> take(const IpAddress& client, NtpTimestamp rx);

    size_t capacity() const { return entries_.size(); }
    size_t tracked() const;
    uint64_t evictions() const { return evictions_; }

    static constexpr size_t kWays = 8;
    // Largest accepted |kernel stamp - daemon reading|.
    static constexpr Nanoseconds kMaxStampDelay{kNanosPerSecond};

  private:
    struct Entry {
        NtpTimestamp rx;
        IpAddress client;
        NtpInstant transmit;
        StampSource source = StampSource::Daemon;
        bool used = false;
    };

    Entry* find(const IpAddress& client, NtpTimestamp rx);
    size_t bucket_of(NtpTimestamp rx);

    SipHash hash_;
    std::vector<Entry> entries_;  // buckets_ * kWays
    size_t buckets_ = 1;          // a power of two
    uint64_t evictions_ = 0;
};

}  // namespace nanotime::ntp
