#include "ctl/views.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

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

// A server-clock timestamp as Unix time: the era is the one nearest to the
// local clock at @pivot (the server's clock is within 68 years of ours).
std::string server_time_text(ntp::NtpTimestamp ts, ntp::NtpInstant pivot) {
    if (ts.is_zero()) return "";
    return unix_ns_text(ntp::NtpInstant::from_timestamp(ts, pivot).to_unix().count());
}

struct VerdictText {
    const char* code;
    const char* state;
    const char* reason;
};

VerdictText verdict_text(const ntp::SourceVerdict& v) {
    switch (v.status) {
        case ntp::SourceStatus::SystemPeer:
            return {"*", "selected", ""};
        case ntp::SourceStatus::Survivor:
            return {"+", "candidate", ""};
        case ntp::SourceStatus::Outlier:
            return {"-", "outlier", ""};
        case ntp::SourceStatus::Falseticker:
            return {"x", "falseticker", ""};
        case ntp::SourceStatus::Unfit:
            break;
    }
    switch (v.unfitness) {
        case ntp::Unfitness::NoStatistics:
            return {"?", "unfit", "no-statistics"};
        case ntp::Unfitness::Unreachable:
            return {"?", "unreachable", "unreachable"};
        case ntp::Unfitness::Unsynchronized:
            return {"?", "unfit", "unsynchronised"};
        case ntp::Unfitness::TooFar:
            return {"?", "unfit", "too-far"};
        case ntp::Unfitness::Loop:
            return {"?", "unfit", "loop"};
        case ntp::Unfitness::NoSelect:
            return {"N", "unfit", "noselect"};
        case ntp::Unfitness::None:
            break;
    }
    return {"?", "unfit", "not-selected-yet"};
}

}  // namespace

const char* leap_name(ntp::LeapIndicator leap) {
    switch (leap) {
        case ntp::LeapIndicator::NoWarning:
            return "none";
        case ntp::LeapIndicator::InsertSecond:
            return "insert";
        case ntp::LeapIndicator::DeleteSecond:
            return "delete";
        case ntp::LeapIndicator::Unsynchronized:
            return "unknown";
    }
    return "unknown";
}

std::string unix_ns_text(int64_t unix_ns) {
    const bool negative = unix_ns < 0;
    const uint64_t bits = static_cast<uint64_t>(unix_ns);
    const uint64_t magnitude = negative ? ~bits + 1 : bits;  // two's complement, INT64_MIN too
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%09" PRIu64, negative ? "-" : "",
                  magnitude / 1'000'000'000U, magnitude % 1'000'000'000U);
    return buf;
}

NtpDataInfo ntpdata_view(const ntp::NtpSource& source, ntp::NtpInstant now) {
    NtpDataInfo nd;
    nd.port = source.config().address.port;
    nd.authenticated = source.uses_nts();
    const ntp::SourceCounters& c = source.counters();
    nd.total_tx = c.requests_sent;
    // Every reply that parsed as a server reply to us, whatever became of it.
    nd.total_rx = c.replies_accepted + c.duplicate + c.bogus + c.invalid_timestamps +
                  c.unsynchronized + c.bad_header + c.kiss_rate + c.kiss_deny + c.kiss_other +
                  c.across_step + c.nts_rejected + c.nts_naks;
    nd.total_valid_rx = c.replies_accepted;
    const std::optional<ntp::LastExchange>& ex = source.last_exchange();
    if (!ex) return nd;
    const ntp::NtpHeader& h = ex->reply;
    nd.has_exchange = true;
    nd.leap = leap_name(h.leap);
    nd.version = h.version;
    nd.mode = static_cast<unsigned>(h.mode);
    nd.stratum = h.stratum;
    nd.poll = h.poll;
    nd.precision = h.precision;
    nd.root_delay_s = ntp::to_seconds(ntp::to_duration(h.root_delay));
    nd.root_dispersion_s = ntp::to_seconds(ntp::to_duration(h.root_dispersion));
    nd.reference_time = server_time_text(h.reference_time, ex->t4);
    nd.local_transmit = unix_ns_text(ex->t1.to_unix().count());
    nd.remote_receive = server_time_text(ex->t2, ex->t1);
    nd.remote_transmit = server_time_text(ex->t3, ex->t4);
    nd.local_receive = unix_ns_text(ex->t4.to_unix().count());
    nd.offset_s = ntp::to_seconds(ex->sample.offset);
    nd.delay_s = ntp::to_seconds(ex->sample.delay);
    nd.dispersion_s = ex->sample.dispersion;
    nd.response_time_s = ntp::to_seconds(ntp::difference(ex->t3, ex->t2));
    nd.age_s = std::max(0.0, ntp::to_seconds(now - ex->t4));
    nd.interleaved = ex->kind.interleaved;
    nd.tx_timestamp_source = ntp::stamp_source_name(ex->kind.transmit);
    nd.rx_timestamp_source = ntp::stamp_source_name(ex->kind.receive);
    return nd;
}

SelectDataInfo selectdata_view(const ntp::SelectableSource& source,
                               const ntp::SourceVerdict& verdict, ntp::NtpInstant now) {
    SelectDataInfo sd;
    const VerdictText text = verdict_text(verdict);
    sd.state_code = text.code;
    sd.state = text.state;
    sd.reason = text.reason;
    const ntp::SourceSnapshot ss = source.snapshot();
    sd.noselect = ss.noselect;
    sd.prefer = ss.prefer;
    sd.reach = source.reach();
    const auto& history = source.estimator().history();
    if (!history.empty()) {
        sd.last_sample_ago_s = std::max(0.0, ntp::to_seconds(now - history.back().local));
    }
    sd.root_distance_s = verdict.root_distance;
    if (ss.has_statistics) {
        sd.interval_low_s = ss.statistics.offset - verdict.root_distance;
        sd.interval_high_s = ss.statistics.offset + verdict.root_distance;
    }
    return sd;
}

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
