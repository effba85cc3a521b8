#include "kernel/pps_bridge.hpp"

#include <algorithm>

namespace nanotime::kernel {

int64_t timespec_diff_ns(const timespec& a, const timespec& b) {
    return (static_cast<int64_t>(a.tv_sec) - static_cast<int64_t>(b.tv_sec)) * 1'000'000'000 +
           (static_cast<int64_t>(a.tv_nsec) - static_cast<int64_t>(b.tv_nsec));
}

std::optional<timespec> PpsBridgeCore::on_fetch(const PpsFetch& fetch, const timespec& now) {
    ++counters_.fetches;
    pending_.reset();
    // Sequence 0: the device has not seen an edge since it was registered.
    if (fetch.sequence == 0 || fetch.sequence == last_sequence_) return std::nullopt;
    if (last_sequence_) {
        // uint32 arithmetic: a wrapped counter still gives the right gap.
        const uint32_t gap = fetch.sequence - *last_sequence_;
        if (gap > 1) counters_.missed += gap - 1;
    }
    last_sequence_ = fetch.sequence;
    ++counters_.edges;
    last_edge_ = fetch.stamp;

    timespec stamp = fetch.stamp;
    if (offset_ns_ != 0) {
        const int64_t ns =
            static_cast<int64_t>(stamp.tv_sec) * 1'000'000'000 + stamp.tv_nsec - offset_ns_;
        stamp.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        stamp.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        if (stamp.tv_nsec < 0) {
            stamp.tv_nsec += 1'000'000'000;
            --stamp.tv_sec;
        }
    }
    const int64_t age = timespec_diff_ns(now, stamp);
    if (age < 0) {
        ++counters_.future;
        return std::nullopt;
    }
    if (age > kMaxAgeNs) {
        ++counters_.stale;
        return std::nullopt;
    }
    if (last_injected_ && timespec_diff_ns(stamp, *last_injected_) <= 0) {
        ++counters_.not_after_previous;
        return std::nullopt;
    }
    pending_ = stamp;
    return stamp;
}

void PpsBridgeCore::on_fetch_error(const std::string& reason) {
    ++counters_.fetch_errors;
    last_error_ = reason;
}

void PpsBridgeCore::on_inject_result(int error, const std::string& message) {
    if (error == 0) {
        ++counters_.injected;
        if (pending_) last_injected_ = pending_;
    } else {
        ++counters_.inject_errors;
        last_error_ = message;
    }
    pending_.reset();
}

int64_t PpsBridgeCore::next_fetch_delay_ns(const timespec& now) const {
    if (!last_edge_) return kSearchPeriodNs;
    const int64_t age = timespec_diff_ns(now, *last_edge_);
    // The next edge is due one second after the last; a stamp from the
    // future (CLOCK_REALTIME stepped back) says nothing about when.
    if (age < 0) return kSearchPeriodNs;
    if (age > 2'000'000'000) return kLostPeriodNs;  // signal lost: look less often
    const int64_t until_due = 1'000'000'000 - age + kFetchLagNs;
    if (until_due <= 0) return kSearchPeriodNs;  // late: search
    return std::clamp<int64_t>(until_due, kFetchLagNs, 1'000'000'000 + kFetchLagNs);
}

bool PpsBridgeCore::signal(const timespec& now) const {
    if (!last_edge_) return false;
    const int64_t age = timespec_diff_ns(now, *last_edge_);
    return age >= 0 && age <= 2'000'000'000;
}

}  // namespace nanotime::kernel
