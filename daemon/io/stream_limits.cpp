// stream_limits.cpp - connection admission, per-address rate and byte
// accounting of a stream listener (see stream_limits.hpp). Pure: no I/O, no
// clock reads.
#include "io/stream_limits.hpp"

#include <algorithm>

namespace nanotime::io {

AddressRateLimiter::AddressRateLimiter(double rate_per_second, unsigned burst, size_t table_size)
    : rate_(rate_per_second), burst_(burst), table_size_(std::max<size_t>(table_size, 1)) {}

bool AddressRateLimiter::allow(const ntp::SocketAddress& peer, MonoClock::time_point now) {
    const ntp::IpAddress& key = peer.ip;
    auto it = table_.find(key);
    if (it == table_.end()) {
        if (table_.size() >= table_size_) {
            table_.erase(recent_.front());
            recent_.pop_front();
        }
        recent_.push_back(key);
        it = table_.emplace(key, Bucket{burst_, now, std::prev(recent_.end())}).first;
    } else {
        recent_.splice(recent_.end(), recent_, it->second.lru);  // now the most recent
        const double elapsed = std::chrono::duration<double>(now - it->second.last).count();
        if (elapsed > 0) {
            it->second.tokens = std::min(burst_, it->second.tokens + elapsed * rate_);
            it->second.last = now;
        }
    }
    if (it->second.tokens < 1.0) return false;
    it->second.tokens -= 1.0;
    return true;
}

const char* admission_name(Admission a) {
    switch (a) {
        case Admission::Admit:
            return "admitted";
        case Admission::TooManyConnections:
            return "too many connections";
        case Admission::AddressRateExceeded:
            return "connection rate of the address exceeded";
        case Admission::TooManyBytesInFlight:
            return "listener's bytes in flight over budget";
    }
    return "?";
}

ConnectionGate::ConnectionGate(const ListenerLimits& limits)
    : limits_(limits),
      rate_(limits.address_rate, limits.address_burst, limits.address_table_size) {}

Admission ConnectionGate::admit(const ntp::SocketAddress& peer, MonoClock::time_point now) {
    if (open_ >= limits_.max_connections) return Admission::TooManyConnections;
    if (over_byte_budget()) return Admission::TooManyBytesInFlight;
    // Last: a refused connection does not cost the address a token.
    if (!rate_.allow(peer, now)) return Admission::AddressRateExceeded;
    ++open_;
    return Admission::Admit;
}

void ConnectionGate::release() {
    if (open_ > 0) --open_;
}

void ConnectionGate::account(size_t before, size_t after) {
    bytes_ = bytes_ - std::min(bytes_, before) + after;
}

}  // namespace nanotime::io
