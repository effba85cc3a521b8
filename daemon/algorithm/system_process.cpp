#include "algorithm/system_process.hpp"

#include <algorithm>
#include <cmath>

#include "algorithm/cluster.hpp"
#include "algorithm/combine.hpp"
#include "algorithm/selection.hpp"

namespace nanotime::ntp {

double root_distance(const SourceSnapshot& s, NtpInstant now) {
    const PeerStatistics& p = s.statistics;
    const double aging = kPhi * std::max(0.0, to_seconds(now - p.updated));
    return std::max(kMinDispersion, s.root_delay + p.delay) / 2 + s.root_dispersion + p.dispersion +
           aging + p.jitter;
}

double SystemState::root_dispersion_at(NtpInstant now) const {
    if (!has_reference_time) return root_dispersion;
    return root_dispersion + dispersion_rate * std::max(0.0, to_seconds(now - reference_time));
}

LeapIndicator majority_leap(std::span<const SourceSnapshot> sources,
                            std::span<const Candidate> candidates,
                            std::span<const size_t> survivors, LeapIndicator fallback) {
    // A leap warning is passed on only when more than half of the survivors
    // announce the same one (as chrony does): one misconfigured server must
    // not insert a second into every clock that listens to it.
    size_t insert = 0, remove = 0;
    for (size_t k : survivors) {
        const LeapIndicator leap = sources[candidates[k].index].leap;
        insert += leap == LeapIndicator::InsertSecond;
        remove += leap == LeapIndicator::DeleteSecond;
    }
    if (2 * insert > survivors.size()) return LeapIndicator::InsertSecond;
    if (2 * remove > survivors.size()) return LeapIndicator::DeleteSecond;
    return fallback == LeapIndicator::Unsynchronized ? fallback : LeapIndicator::NoWarning;
}

SystemProcess::SystemProcess(SystemConfig config) : config_(std::move(config)) {
    state_.precision = config_.precision;
}

Unfitness SystemProcess::fitness(const SourceSnapshot& s, NtpInstant, double distance) const {
    if (s.noselect) return Unfitness::NoSelect;
    if (!s.has_statistics) return Unfitness::NoStatistics;
    if (s.reach == 0) return Unfitness::Unreachable;
    if (s.leap == LeapIndicator::Unsynchronized || s.stratum >= kMaxStratum) {
        return Unfitness::Unsynchronized;
    }
    // RFC 5905 A.5.5.3 allows one poll interval of extra aging.
    if (distance > config_.max_distance + kPhi * log2_to_seconds(s.poll)) return Unfitness::TooFar;
    if (s.stratum > 1 &&
        std::find(config_.own_reference_ids.begin(), config_.own_reference_ids.end(),
                  s.reference_id) != config_.own_reference_ids.end()) {
        return Unfitness::Loop;
    }
    return Unfitness::None;
}

SelectionOutcome SystemProcess::select(std::span<const SourceSnapshot> sources, NtpInstant now) {
    SelectionOutcome outcome;
    outcome.verdicts.resize(sources.size());
    std::vector<Candidate> candidates;
    size_t starting = 0;
    for (size_t i = 0; i < sources.size(); ++i) {
        if (sources[i].starting) ++starting;
        SourceVerdict& v = outcome.verdicts[i];
        v.id = sources[i].id;
        v.root_distance = root_distance(sources[i], now);
        v.unfitness = fitness(sources[i], now, v.root_distance);
        v.status = SourceStatus::Unfit;
        if (v.unfitness != Unfitness::None) continue;
        const PeerStatistics& p = sources[i].statistics;
        candidates.push_back(Candidate{i, p.offset, v.root_distance, p.jitter, sources[i].stratum});
    }
    // Holdover: without a majority the system variables keep their last
    // values (root dispersion keeps growing, see SystemState), but there is
    // no system peer. The quorum of starting sources is waited for only
    // while there is no system peer (as chrony waits only with no source
    // selected): a source added later (nanotimectl add, a reload, a pool's
    // replacement member) joins when ready and does not stop the updates
    // from the ones that run.
    const bool quorum_wait = !state_.system_peer && candidates.size() <= starting;
    if (candidates.size() < config_.min_sane || quorum_wait) {
        state_.system_peer.reset();
        return outcome;
    }
    // Before the first synchronization, wait for every starting source: at
    // startup the correctness intervals are wide (empty filter stages count
    // MAXDISP), so only clustering over all sources can weed out a
    // falseticker that happens to answer first.
    if (!state_.synchronized() && starting > 0) {
        state_.system_peer.reset();
        return outcome;
    }

    std::optional<Intersection> intersection = find_intersection(candidates);
    // Trusted sources are never falsetickers: when the majority's
    // intersection leaves one of them out (or there is none), the trusted
    // sources' own intersection decides who is a truechimer.
    std::vector<Candidate> trusted;
    for (const Candidate& c : candidates)
        if (sources[c.index].trust) trusted.push_back(c);
    if (!trusted.empty()) {
        bool all_in = intersection.has_value();
        for (const Candidate& c : trusted) {
            all_in = all_in && c.offset - c.root_distance <= intersection->high &&
                     c.offset + c.root_distance >= intersection->low;
        }
        if (!all_in) {
            if (auto of_trusted = find_intersection(trusted)) intersection = of_trusted;
        }
    }
    if (!intersection) {
        for (const Candidate& c : candidates) {
            outcome.verdicts[c.index].status = SourceStatus::Falseticker;
        }
        state_.system_peer.reset();
        return outcome;
    }
    const std::vector<size_t> chimers = truechimers(candidates, *intersection);
    for (const Candidate& c : candidates) {
        outcome.verdicts[c.index].status = SourceStatus::Falseticker;
    }
    if (chimers.size() < config_.min_sane) {
        state_.system_peer.reset();
        return outcome;
    }

    const ClusterResult clustered = cluster(candidates, chimers, config_.min_cluster);
    for (size_t k : clustered.outliers) {
        outcome.verdicts[candidates[k].index].status = SourceStatus::Outlier;
    }
    for (size_t k : clustered.survivors) {
        outcome.verdicts[candidates[k].index].status = SourceStatus::Survivor;
    }

    // System peer: keep the current one while it survives at the head's stratum.
    size_t peer = clustered.survivors.front();
    if (state_.system_peer) {
        for (size_t k : clustered.survivors) {
            if (sources[candidates[k].index].id == *state_.system_peer &&
                candidates[k].stratum == candidates[peer].stratum) {
                peer = k;
                break;
            }
        }
    }
    for (size_t k : clustered.survivors) {
        if (sources[candidates[k].index].prefer) {
            peer = k;
            break;
        }
    }
    const SourceSnapshot& ps = sources[candidates[peer].index];
    outcome.verdicts[candidates[peer].index].status = SourceStatus::SystemPeer;
    outcome.majority = true;

    const Combined combined = combine(candidates, clustered.survivors, peer);
    const PeerStatistics& p = ps.statistics;
    state_.system_peer = ps.id;
    state_.leap = majority_leap(sources, candidates, clustered.survivors, ps.leap);
    state_.stratum = static_cast<uint8_t>(std::min<int>(ps.stratum + 1, kMaxStratum));
    state_.reference_id = ps.stratum == 0 ? ps.reference_id : ps.address_reference_id;
    // Until the discipline records its first update, the RFC 5905 values
    // stand in (a caller without a discipline keeps them).
    if (!disciplined_) {
        state_.root_delay = ps.root_delay + p.delay;
        state_.root_dispersion =
            std::max(kMinDispersion, ps.root_dispersion + p.dispersion + p.jitter +
                                         kPhi * std::max(0.0, to_seconds(now - p.updated)) +
                                         std::fabs(p.offset));
        state_.offset = combined.offset;
        state_.jitter = combined.jitter;
        state_.reference_time = now;
        state_.has_reference_time = true;
    }

    // Feed the discipline once per new system-peer sample.
    if (!last_update_sample_ || p.time > *last_update_sample_) {
        last_update_sample_ = p.time;
        outcome.clock_update = ClockUpdate{combined.offset, combined.jitter, p.time, ps.id};
    }
    return outcome;
}

void SystemProcess::record_update(NtpInstant now, double offset, double jitter, double root_delay,
                                  double root_dispersion, double dispersion_rate) {
    disciplined_ = true;
    state_.offset = offset;
    state_.jitter = jitter;
    state_.root_delay = root_delay;
    state_.root_dispersion = root_dispersion;
    state_.dispersion_rate = dispersion_rate;
    state_.reference_time = now;
    state_.has_reference_time = true;
}

}  // namespace nanotime::ntp
