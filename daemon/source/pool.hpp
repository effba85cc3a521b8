// pool.hpp - membership of one `pool` entry (a DNS name of many servers).
//
// Keeps up to `desired_members` sources from the resolved addresses, never
// two with the same address. A member is replaced when it is unreachable for
// 8 polls (its source reports Reset{Unreachable}) or when selection calls it
// a falseticker `falseticker_limit` times in a row; a replaced address is
// not taken again for `avoid_for`. When short of members and out of fresh
// addresses the pool asks for the name to be resolved again, backing off
// from `min_resolve_interval` to `max_resolve_interval`.
// The pool only decides; ClientCore turns decisions into sources and actions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "algorithm/source_snapshot.hpp"
#include "net/socket_address.hpp"
#include "source/ntp_source.hpp"
#include "time/ntp_time.hpp"

namespace nanotime::ntp {

struct PoolConfig {
    std::string hostname;
    uint16_t port = 123;
    size_t desired_members = 4;
    unsigned falseticker_limit = 8;                   // consecutive selections
    Nanoseconds avoid_for{3600LL * kNanosPerSecond};  // after a replacement
    Nanoseconds min_resolve_interval{16LL * kNanosPerSecond};
    Nanoseconds max_resolve_interval{3600LL * kNanosPerSecond};
    SourceConfig source;  // template for members (address is filled in)
};

class Pool {
  public:
    explicit Pool(PoolConfig config) : config_(std::move(config)) {}

    const PoolConfig& config() const { return config_; }
    size_t member_count() const { return members_.size(); }
    bool wants_members() const { return members_.size() < config_.desired_members; }

    // New addresses to start sources for, from a resolution result: unused,
    // not avoided, at most as many as missing. Remembers the rest for later.
    std::vector<SocketAddress> take_addresses(const std::vector<IpAddress>& resolved,
                                              NtpInstant now);
    // Spare addresses from the last resolution still usable now.
    std::vector<SocketAddress> take_spare(NtpInstant now);

    void add_member(SourceId id, const SocketAddress& address);
    // The member is gone; @replaced: avoid its address for a while.
    void remove_member(SourceId id, NtpInstant now, bool replaced);
    bool is_member(SourceId id) const { return members_.count(id) != 0; }

    // Records a selection verdict; true when the member should be replaced.
    bool record_falseticker(SourceId id, bool falseticker);

    // Delay before the next resolution attempt; doubles on each call
    // without success, resets after a successful resolution.
    Nanoseconds next_resolve_delay();
    void resolution_succeeded() { failures_ = 0; }

  private:
    bool usable(const SocketAddress& address, NtpInstant now) const;

    PoolConfig config_;
    std::map<SourceId, SocketAddress> members_;
    std::map<SourceId, unsigned> falseticker_runs_;
    std::map<SocketAddress, NtpInstant> avoided_until_;
    std::vector<SocketAddress> spare_;
    unsigned failures_ = 0;
};

}  // namespace nanotime::ntp
