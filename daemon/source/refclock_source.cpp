// refclock_source.cpp - a reference clock as a source (see refclock_source.hpp).
#include "source/refclock_source.hpp"

#include <algorithm>
#include <cmath>

#include "source/ntp_source.hpp"

namespace nanotime::ntp {
namespace {

// With this many readings or more, the lowest and highest fifth of offsets
// are dropped before averaging (outliers: a late NMEA sentence, a missed edge).
constexpr size_t kTrimFrom = 5;
constexpr size_t kTrimDivisor = 5;
// Polls before a refclock without enough samples stops counting as starting.
constexpr uint64_t kStartupPolls = 12;

}  // namespace

const char* to_string(RefclockReject reason) {
    switch (reason) {
        case RefclockReject::WrongSize:
            return "wrong size";
        case RefclockReject::WrongMagic:
            return "wrong magic";
        case RefclockReject::BadMode:
            return "bad mode";
        case RefclockReject::TornRead:
            return "torn read";
        case RefclockReject::NotValid:
            return "no new sample";
        case RefclockReject::BadTimestamp:
            return "bad timestamp";
        case RefclockReject::BadLeap:
            return "bad leap code";
        case RefclockReject::Unsynchronized:
            return "unsynchronised";
        case RefclockReject::PulseOnly:
            return "pulse without second numbering";
        case RefclockReject::Unavailable:
            return "unavailable";
        case RefclockReject::NoSecondNumbering:
            return "no second-numbering source";
        case RefclockReject::LockMismatch:
            return "not locked";
    }
    return "unknown";
}

RefclockSource::RefclockSource(SourceId id, RefclockConfig config, const CorrectionLedger* ledger)
    : id_(id),
      config_(config),
      filter_(config.precision),
      ledger_(ledger != nullptr ? ledger : &own_ledger_),
      estimator_(ledger_->frequency()) {
    config_.filter = std::max(1u, config_.filter);
}

SourceActions RefclockSource::start() const {
    return {SetTimer{from_seconds(log2_to_seconds(config_.poll))}};
}

void RefclockSource::add_sample(const RefclockSample& sample) {
    ++counters_.samples;
    if (pending_.size() >= config_.filter) {
        pending_.erase(pending_.begin());
        ++counters_.dropped_full;
    }
    RefclockSample s = sample;
    s.offset += config_.offset;
    pending_.push_back(s);
    last_reading_ = s;
}

void RefclockSource::reject(RefclockReject reason, const std::string& detail) {
    ++counters_.rejected[static_cast<size_t>(reason)];
    last_error_ = std::string(to_string(reason)) + (detail.empty() ? "" : ": " + detail);
}

SourceActions RefclockSource::handle_timer(NtpInstant now) {
    SourceActions actions;
    ++counters_.polls;
    reach_.on_poll();
    if (pending_.empty()) {
        ++silent_polls_;
        if (silent_polls_ >= kUnreachablePolls) {
            if (!unreachable_reported_) {
                unreachable_reported_ = true;
                filter_.reset();
                actions.push_back(Reset{ResetReason::Unreachable});
            }
        } else if (reach_.reachable() && (reach_.value() & 0x07) == 0) {
            filter_.add_timeout(now);
            if (filter_.has_statistics()) actions.push_back(UpdateSystem{snapshot()});
        }
        actions.push_back(SetTimer{from_seconds(log2_to_seconds(config_.poll))});
        return actions;
    }

    // Leap: the newest reading's word (a receiver announces it for hours).
    leap_ = pending_.back().leap;
    std::vector<RefclockSample> kept = pending_;
    pending_.clear();
    std::sort(kept.begin(), kept.end(),
              [](const RefclockSample& a, const RefclockSample& b) { return a.offset < b.offset; });
    if (kept.size() >= kTrimFrom) {
        const auto trim = static_cast<std::ptrdiff_t>(kept.size() / kTrimDivisor);
        kept.erase(kept.end() - trim, kept.end());
        kept.erase(kept.begin(), kept.begin() + trim);
    }
    // Mean offset at the mean local time of the readings kept: a straight
    // line through them (the clock's drift within a poll) passes there.
    const NtpInstant base = kept.front().local;
    double offset_sum = 0, local_sum = 0;
    for (const RefclockSample& s : kept) {
        offset_sum += s.offset;
        local_sum += to_seconds(s.local - base);
    }
    const auto n = static_cast<double>(kept.size());
    const double offset = offset_sum / n;
    const NtpInstant local = base + from_seconds(local_sum / n);
    double squares = 0;
    for (const RefclockSample& s : kept) squares += (s.offset - offset) * (s.offset - offset);
    const double spread = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;  // s, one reading's sd

    reach_.on_reply();
    silent_polls_ = 0;
    unreachable_reported_ = false;
    ++counters_.polls_with_samples;
    // The readings' spread joins the configured delay: the estimator weighs
    // a sample by its delay above the minimum (a noisy poll counts less),
    // and the clock filter prefers the quietest poll.
    const double delay = config_.delay + std::sqrt(12.0) * spread / std::sqrt(n);
    OnWireSample sample;
    sample.offset = from_seconds(offset);
    sample.delay = from_seconds(delay);
    sample.dispersion = log2_to_seconds(config_.precision) + spread;
    estimator_.add(ledger_->at(local), offset, delay, local);
    filter_.add_sample(sample, now, log2_to_seconds(config_.poll));
    actions.push_back(UpdateSystem{snapshot()});
    actions.push_back(SetTimer{from_seconds(log2_to_seconds(config_.poll))});
    return actions;
}

void RefclockSource::reset_after_clock_step() {
    filter_.reset();
    pending_.clear();
    last_reading_.reset();
    estimator_ = SourceEstimator(ledger_->frequency());
}

void RefclockSource::apply_step(double amount_s) {
    filter_.apply_step(amount_s);
    // Readings taken before the step measured against the old timescale.
    for (RefclockSample& s : pending_) s.offset -= amount_s;
    if (last_reading_) last_reading_->offset -= amount_s;
}

void RefclockSource::restart_estimates() {
    filter_.reset();
    pending_.clear();
    estimator_ = SourceEstimator(ledger_->frequency());
}

SourceSnapshot RefclockSource::snapshot() const {
    SourceSnapshot s;
    s.id = id_;
    s.has_statistics = filter_.has_statistics();
    s.starting = filter_.valid_stages() < kBurstEnoughSamples && counters_.polls < kStartupPolls &&
                 !unreachable_reported_;
    s.statistics =
        selection_statistics(filter_, estimator_, config_.precision, kBurstEnoughSamples);
    s.reach = reach_.value();
    s.poll = config_.poll;
    s.leap = leap_;
    s.stratum = leap_ == LeapIndicator::Unsynchronized ? kMaxStratum : 0;
    s.root_delay = 0;
    s.root_dispersion = 0;
    s.reference_id = config_.reference_id;
    s.address_reference_id = config_.reference_id;
    s.prefer = config_.prefer;
    s.noselect = config_.noselect;
    s.trust = config_.trust;
    return s;
}

}  // namespace nanotime::ntp
