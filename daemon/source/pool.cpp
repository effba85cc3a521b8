#include "source/pool.hpp"

#include <algorithm>

namespace nanotime::ntp {

bool Pool::usable(const SocketAddress& address, NtpInstant now) const {
    for (const auto& [id, member] : members_) {
        if (member == address) return false;
    }
    auto it = avoided_until_.find(address);
    return it == avoided_until_.end() || it->second <= now;
}

std::vector<SocketAddress> Pool::take_addresses(const std::vector<IpAddress>& resolved,
                                                NtpInstant now) {
    spare_.clear();
    for (const IpAddress& ip : resolved) {
        const SocketAddress address{ip, config_.port};
        if (std::find(spare_.begin(), spare_.end(), address) == spare_.end()) {
            spare_.push_back(address);
        }
    }
    return take_spare(now);
}

std::vector<SocketAddress> Pool::take_spare(NtpInstant now) {
    std::vector<SocketAddress> chosen;
    const size_t missing =
        config_.desired_members - std::min(config_.desired_members, members_.size());
    for (auto it = spare_.begin(); it != spare_.end() && chosen.size() < missing;) {
        const bool duplicate = std::find(chosen.begin(), chosen.end(), *it) != chosen.end();
        if (!duplicate && usable(*it, now)) {
            chosen.push_back(*it);
            it = spare_.erase(it);
        } else {
            ++it;
        }
    }
    return chosen;
}

void Pool::add_member(SourceId id, const SocketAddress& address) {
    members_[id] = address;
}

void Pool::remove_member(SourceId id, NtpInstant now, bool replaced) {
    auto it = members_.find(id);
    if (it == members_.end()) return;
    if (replaced) avoided_until_[it->second] = now + config_.avoid_for;
    members_.erase(it);
    falseticker_runs_.erase(id);
    // Forget expired avoidances so the map stays bounded by recent history.
    std::erase_if(avoided_until_, [&](const auto& entry) { return entry.second <= now; });
}

bool Pool::record_falseticker(SourceId id, bool falseticker) {
    if (!is_member(id)) return false;
    unsigned& run = falseticker_runs_[id];
    run = falseticker ? run + 1 : 0;
    return run >= config_.falseticker_limit;
}

Nanoseconds Pool::next_resolve_delay() {
    Nanoseconds delay = config_.min_resolve_interval;
    for (unsigned i = 0; i < failures_ && delay < config_.max_resolve_interval; ++i) delay *= 2;
    ++failures_;
    return std::min(delay, config_.max_resolve_interval);
}

}  // namespace nanotime::ntp
