#include "ctl/views.hpp"

#include <algorithm>

namespace nanotime::ctl {
namespace {

double unix_seconds(ntp::NtpInstant t) {
    return ntp::to_seconds(t.to_unix());
}

// The frequency the local clock runs at, apart from a slew in progress
// (fraction): what a source's residual frequency is relative to. A slew is an
// offset correction spread over seconds; chronyc's residual is likewise
// relative to the base frequency.
double running_frequency(const ntp::ClientCore& core) {
    return core.controller().slewing() ? core.controller().base_frequency()
                                       : core.ledger().frequency();
}

}  // namespace

SourceInfo source_view(const ntp::SelectableSource& source, ntp::NtpInstant now) {
    SourceInfo si;
    const ntp::SourceSnapshot ss = source.snapshot();
    si.stratum = ss.stratum;
    si.poll = source.poll();
    si.reach = source.reach();
    // The newest sample, whatever the clock filter chose: the filter's pick
    // may be several polls old (the lowest-delay stage), and showing it as
    // "the offset" hides what the source says now.
    const auto& history = source.estimator().history();
    if (!history.empty()) {
        const ntp::EstimatorSample& newest = history.back();
        si.last_rx_ago_s = std::max(0.0, ntp::to_seconds(now - newest.local));
        si.sample_time_s = unix_seconds(newest.local);
        si.offset_s = newest.offset;
        si.delay_s = newest.delay;
        si.outlier = newest.outlier;
    }
    if (ss.has_statistics) {
        si.dispersion_s = ss.statistics.dispersion;
        si.jitter_s = ss.statistics.jitter;
    }
    return si;
}

SourceInfo refclock_view(const ntp::RefclockSource& refclock, ntp::NtpInstant now) {
    SourceInfo si = source_view(refclock, now);
    const ntp::RefclockCounters& c = refclock.counters();
    si.samples = c.samples;
    for (uint64_t n : c.rejected) si.rejected += n;
    si.last_error = refclock.last_error();
    return si;
}

SourceStatsInfo sourcestats_view(const ntp::NtpSource& source, const ntp::ClientCore& core,
                                 ntp::NtpInstant now) {
    SourceStatsInfo st =
        sourcestats_view(static_cast<const ntp::SelectableSource&>(source), core, now);
    st.requests = source.counters().requests_sent;
    st.replies = source.counters().replies_accepted;
    st.kernel_tx_timestamps = source.counters().kernel_tx_timestamps;
    st.interleaved = source.counters().interleaved;
    st.replies_across_step = source.counters().across_step;
    return st;
}

SourceStatsInfo sourcestats_view(const ntp::SelectableSource& source, const ntp::ClientCore& core,
                                 ntp::NtpInstant now) {
    SourceStatsInfo st;
    const ntp::SourceEstimator& est = source.estimator();
    const auto& history = est.history();
    st.samples = static_cast<unsigned>(history.size());
    st.samples_used = static_cast<unsigned>(est.used());
    st.outliers = est.outliers();
    if (!history.empty()) {
        st.span_s = ntp::to_seconds(history.back().local - history.front().local);
        st.min_delay_s = est.min_delay();
    }
    const ntp::RawPoint here = core.ledger().at(now);
    if (const std::optional<ntp::SourceEstimate> e = est.estimate_at(here.x)) {
        // Raw offset minus the correction in force now: the offset the local
        // clock would measure at this moment. d/dt of it is the raw frequency
        // minus the rate the correction grows at.
        st.offset_s = e->offset - here.correction;
        st.offset_sd_s = e->offset_sd;
        st.std_dev_s = e->residual_sd;
        if (e->has_frequency) {
            st.frequency_ppm = (e->frequency - running_frequency(core)) * 1e6;
            st.skew_ppm = e->frequency_sd * 1e6;
        }
    }
    const ntp::SourceSnapshot ss = source.snapshot();
    if (ss.has_statistics) {
        st.delay_s = ss.statistics.delay;
        st.jitter_s = ss.statistics.jitter;
        st.dispersion_s = ss.statistics.dispersion;
    }
    return st;
}

TrackingInfo tracking_view(const ntp::ClientCore& core, const ntp::SystemState& served,
                           ntp::NtpInstant now) {
    TrackingInfo tr;
    const ntp::DisciplineStatus& d = core.discipline_status();
    tr.stratum = served.stratum;
    if (served.has_reference_time) {
        tr.reference_time_s = unix_seconds(served.reference_time);
        tr.system_offset_age_s = std::max(0.0, ntp::to_seconds(now - served.reference_time));
    }
    tr.system_offset_s = served.offset;
    tr.jitter_s = served.jitter;
    // Exactly NtpServer::handle's terms (before the 16.16 encoding).
    tr.root_delay_s = served.root_delay;
    tr.root_dispersion_s = served.root_dispersion_at(now);
    tr.root_dispersion_rate_ppm = served.dispersion_rate * 1e6;
    if (d.updates > 0) {
        tr.frequency_ppm = d.frequency * 1e6;
        tr.skew_ppm = d.frequency_sd * 1e6;
        tr.offset_sd_s = d.offset_sd;
        tr.std_dev_s = d.residual_sd;
    } else {
        tr.frequency_ppm = core.ledger().frequency() * 1e6;
    }
    if (served.system_peer) {
        if (const ntp::SelectableSource* peer = core.selectable(*served.system_peer)) {
            tr.residual_frequency_ppm = sourcestats_view(*peer, core, now).frequency_ppm;
            tr.update_interval_s = ntp::log2_to_seconds(peer->poll());
        }
    }
    return tr;
}

DisciplineInfo discipline_view(const ntp::ClientCore& core, ntp::NtpInstant now) {
    DisciplineInfo di;
    const ntp::DisciplineStatus& d = core.discipline_status();
    const ntp::ControllerConfig& cfg = core.controller().config();
    di.adjusting = cfg.adjust;
    di.max_frequency_ppm = cfg.max_frequency * 1e6;
    di.updates = d.updates;
    di.frequency_limited = d.frequency_limited;
    di.frequency_ppm = d.frequency * 1e6;
    di.stalled = d.stalled;
    di.stall_polls = ntp::kStallPolls;
    di.restarts = d.restarts;
    di.slewing = d.slewing;
    // DisciplineStatus::last_update_age is refreshed at source timers only;
    // the system state's reference time is the update itself.
    const ntp::SystemState& sys = core.system_state();
    if (d.last_update_age >= 0 && sys.has_reference_time) {
        di.last_update_age_s = std::max(0.0, ntp::to_seconds(now - sys.reference_time));
        double longest_poll = 0;
        for (const ntp::SourceInfo& info : core.sources()) {
            if (info.source->reach() == 0 || info.source->demobilized()) continue;
            longest_poll = std::max(longest_poll, ntp::log2_to_seconds(info.source->poll()));
        }
        for (const ntp::RefclockInfo& info : core.refclocks()) {
            if (info.refclock->reach() == 0) continue;
            longest_poll = std::max(longest_poll, ntp::log2_to_seconds(info.refclock->poll()));
        }
        if (longest_poll > 0) di.polls_since_update = di.last_update_age_s / longest_poll;
    }
    if (di.frequency_limited) di.faults.push_back("frequency-limited");
    if (di.stalled) di.faults.push_back("stalled");
    return di;
}

}  // namespace nanotime::ctl
