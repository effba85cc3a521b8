// snapshot_builder.cpp - nanotimectl's views and the status line, read from
// the daemon's services (see snapshot_builder.hpp).
#include "nanotimed/snapshot_builder.hpp"

#include <arpa/inet.h>
#include <sys/timex.h>
#include <unistd.h>

#include <cstdio>

#include "ctl/views.hpp"
#include "packet/reference_id.hpp"

namespace nanotime::daemon {
namespace {

std::string verdict_text(const ntp::SourceVerdict& v, uint8_t reach) {
    switch (v.status) {
        case ntp::SourceStatus::SystemPeer:
            return "selected";
        case ntp::SourceStatus::Survivor:
            return "candidate";
        case ntp::SourceStatus::Outlier:
            return "outlier";
        case ntp::SourceStatus::Falseticker:
            return "falseticker";
        case ntp::SourceStatus::Unfit:
            return reach == 0 ? "unreachable" : "unfit";
    }
    return "unknown";
}

ctl::AuthDataInfo authdata_view(const ntp::NtpSource& src, const ClientDriver& driver,
                                const ctl::SourceInfo& si, ntp::NtpInstant now) {
    ctl::AuthDataInfo a;
    a.name = si.name;
    a.address = si.address + ":" + std::to_string(src.config().address.port);
    if (src.nts_ready()) a.aead = src.nts_aead();
    a.cookies = static_cast<unsigned>(src.nts_cookies());
    const ntp::SourceCounters& c = src.counters();
    a.key_exchanges = c.key_exchanges;
    a.naks = c.nts_naks;
    a.rejected = c.nts_rejected;
    if (const ClientDriver::NtsKeHistory* h = driver.nts_history(src.id())) {
        a.key_exchanges_ok = h->succeeded;
        a.key_exchanges_failed = h->failed;
        if (h->last) a.last_key_exchange_ago_s = std::max(0.0, ntp::to_seconds(now - *h->last));
        a.last_error = h->last_error;
    }
    return a;
}

void fill_server_stats(const SnapshotInputs& in, ctl::ServerStatsInfo& s) {
    if (in.server != nullptr) {
        const ntp::ServerCounters c = in.server->counters();
        s.ntp = true;
        s.ntp_received = c.received;
        s.ntp_responded = c.replied;
        s.ntp_denied = c.denied;
        s.ntp_rate_limited = c.rate_limited_kod + c.rate_limited_dropped;
        s.ntp_malformed = c.malformed + c.wrong_mode;
        s.ntp_interleaved = c.interleaved;
        s.ntp_tx_stamps = c.tx_stamps;
        s.nts_dropped = c.nts_dropped;
        const nts::NtsServerCounters n = in.server->nts_counters();
        s.nts = in.nts_keys != nullptr;
        s.nts_authentic = n.authentic;
        s.nts_nak = n.nak;
        s.nts_malformed = n.malformed;
        s.nts_missing_field = n.missing_field;
        s.nts_auth_failed = n.auth_failed;
        s.nts_no_sealing_key = n.no_sealing_key;
        s.nts_crypto_failure = n.crypto_failure;
        s.cookie_unknown_key = n.cookie_unknown_key;
        s.cookie_auth_failed = n.cookie_auth_failed;
        s.cookie_bad_contents = n.cookie_bad_contents;
    }
    if (in.nts_ke != nullptr) {
        const NtsKeCounters k = in.nts_ke->counters();
        s.nts_ke = true;
        s.ke_accepted = k.accepted;
        s.ke_keys_issued = k.keys_issued;
        s.ke_no_common_protocol = k.no_common_protocol;
        s.ke_no_common_aead = k.no_common_aead;
        s.ke_bad_request = k.bad_request;
        s.ke_unrecognized_critical = k.unrecognized_critical;
        s.ke_internal_error = k.internal_error;
        s.ke_tls_failed = k.tls_failed;
        s.ke_timed_out = k.timed_out;
        s.ke_refused = k.refused;
        s.ke_certificate_reloads = k.certificate_reloads;
        s.ke_pool = k.pool;
        s.ke_pool_support_served = k.pool_support_served;
        s.ke_pool_fixed_key_served = k.pool_fixed_key_served;
        s.ke_pool_refused_no_certificate = k.pool_refused_no_certificate;
        s.ke_pool_refused_certificate = k.pool_refused_certificate;
        s.ke_pool_refused_token = k.pool_refused_token;
        s.ke_pool_refused_malformed = k.pool_refused_malformed;
        s.ke_pool_refused_protocol = k.pool_refused_protocol;
        s.ke_pool_refused_aead = k.pool_refused_aead;
        s.ke_pool_refused_internal = k.pool_refused_internal;
        s.ke_pool_keep_alive_sessions = k.pool_keep_alive_sessions;
        s.ke_pool_keep_alive_refused = k.pool_keep_alive_refused;
        s.ke_pool_keep_alive_open = k.pool_keep_alive_open;
        s.ke_server_deny = k.server_deny;
    }
    if (in.nts_keys != nullptr) {
        const NtsKeyStatus& k = in.nts_keys->status();
        s.keys = true;
        s.keys_writer = k.writer;
        s.keys_held = static_cast<unsigned>(k.keys);
        s.key_sealing_id = k.sealing_id;
        s.key_next_check_s = static_cast<double>(k.next_check);
        s.key_rotations = k.rotations;
        s.key_loads = k.loads;
        s.key_failures = k.failures;
        s.key_last_error = k.last_error;
    }
}

void fill_kernel(io::ClockBackend& clock, ctl::KernelInfo& k, ctl::PpsInfo& p) {
    timex tx{};
    const int state = clock.read(tx);
    k.clock = clock.name();
    if (state < 0) return;
    const double unit = (tx.status & STA_NANO) ? 1e-9 : 1e-6;
    k.available = true;
    k.state = state;
    k.state_name = io::clock_state_name(state);
    k.status = io::status_flag_names(tx.status);
    k.offset_s = static_cast<double>(tx.offset) * unit;
    k.frequency_ppm = io::total_frequency_ppm(tx);
    k.max_error_s = static_cast<double>(tx.maxerror) * 1e-6;
    k.est_error_s = static_cast<double>(tx.esterror) * 1e-6;
    k.time_constant = tx.constant;
    k.precision_s = static_cast<double>(tx.precision) * 1e-6;
    k.tolerance_ppm = static_cast<double>(tx.tolerance) / 65536.0;
    k.tick_s = static_cast<double>(tx.tick) * 1e-6;
    k.tai_offset = tx.tai;

    p.signal = (tx.status & STA_PPSSIGNAL) != 0;
    p.available = p.signal || tx.calcnt > 0;
    p.discipline_frequency = (tx.status & STA_PPSFREQ) != 0;
    p.discipline_time = (tx.status & STA_PPSTIME) != 0;
    p.frequency_ppm = static_cast<double>(tx.ppsfreq) / 65536.0;
    p.jitter_s = static_cast<double>(tx.jitter) * unit;
    p.interval_log2 = tx.shift;
    p.stability_ppm = static_cast<double>(tx.stabil) / 65536.0;
    p.calibrations = tx.calcnt;
    p.jitter_exceeded = tx.jitcnt;
    p.calibration_errors = tx.errcnt;
    p.stability_exceeded = tx.stbcnt;
}

}  // namespace

std::string reference_id_text(uint32_t id, int stratum) {
    if (stratum <= 1) {
        std::string s = ntp::reference_id_to_ascii(id);
        return s.empty() ? "-" : s;
    }
    char buf[INET_ADDRSTRLEN] = {};
    const uint32_t be = htonl(id);
    inet_ntop(AF_INET, &be, buf, sizeof buf);
    return buf;
}

std::string status_line(const ntp::ClientCore& core) {
    const ntp::SystemState& s = core.system_state();
    unsigned reachable = 0;
    const auto infos = core.sources();
    const auto refclocks = core.refclocks();
    for (const ntp::SourceInfo& i : infos) reachable += i.source->reach() != 0 ? 1 : 0;
    for (const ntp::RefclockInfo& i : refclocks) reachable += i.refclock->reach() != 0 ? 1 : 0;
    const size_t total = infos.size() + refclocks.size();
    char buf[300];
    if (s.synchronized()) {
        std::snprintf(buf, sizeof buf,
                      "synchronised to %s, stratum %d, offset %+.6f s, %u/%zu sources reachable",
                      reference_id_text(s.reference_id, s.stratum).c_str(), s.stratum, s.offset,
                      reachable, total);
    } else {
        std::snprintf(buf, sizeof buf, "not synchronised, %u/%zu sources reachable", reachable,
                      total);
    }
    std::string line = buf;
    // The discipline's faults, so that a line saying "synchronised" does not
    // hide a clock that is not being corrected.
    const ntp::DisciplineStatus& d = core.discipline_status();
    if (d.frequency_limited) line += ", frequency pinned";
    if (d.stalled) line += ", discipline stalled (restart " + std::to_string(d.restarts) + ")";
    return line;
}

ctl::DaemonSnapshot build_snapshot(const SnapshotInputs& in) {
    ctl::DaemonSnapshot snap;
    const ntp::NtpInstant t = in.timescale.now();
    const ntp::ClientCore& core = in.driver.core();
    const ntp::SystemState& sys = core.system_state();
    const auto infos = core.sources();

    ctl::StatusInfo& st = snap.status;
    st.version = kVersion;
    st.pid = getpid();
    st.uptime_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - in.started).count();
    st.io_backend = io::backend_name(in.loop.backend());
    st.io_detail = in.loop.describe();
    st.clock_backend = config::to_string(in.config.clock.backend);
    st.clock_device = in.clock.clock().name();
    st.synchronized = sys.synchronized();
    st.stratum = sys.stratum;
    st.reference_id = sys.synchronized() ? reference_id_text(sys.reference_id, sys.stratum) : "-";
    st.leap = ctl::leap_name(sys.leap);
    const auto refclocks = core.refclocks();
    st.sources = static_cast<unsigned>(infos.size() + refclocks.size());
    for (const ntp::SourceInfo& i : infos) st.sources_reachable += i.source->reach() != 0 ? 1 : 0;
    for (const ntp::RefclockInfo& i : refclocks)
        st.sources_reachable += i.refclock->reach() != 0 ? 1 : 0;
    st.server_enabled = in.server != nullptr;
    if (in.server) {
        const ntp::ServerCounters c = in.server->counters();
        st.server_received = c.received;
        st.server_responded = c.replied;
        st.server_denied = c.denied;
        st.server_rate_limited = c.rate_limited_kod + c.rate_limited_dropped;
        st.server_malformed = c.malformed + c.wrong_mode;
    }
    st.datagrams_truncated = in.loop.stats().datagrams_truncated +
                             (in.server ? in.server->worker_datagrams_truncated() : 0);
    st.log_suppressed = in.log.suppressed_total();
    if (const auto& table = in.clock.leap().table()) {
        const ntp::LeapStatus ls = table->status_at(t);
        st.leap_file = in.clock.leap().path();
        st.leap_file_expires_s = static_cast<double>(table->expires() - ntp::kNtpToUnixSeconds);
        if (ls.next_leap)
            st.next_leap_s = static_cast<double>(*ls.next_leap - ntp::kNtpToUnixSeconds);
        st.tai_offset = ls.tai_offset;
    }
    if (const io::RealtimeSteering* steering = in.clock.steering()) {
        st.realtime_steering = in.clock.steering_waiting() ? "waiting"
                               : steering->locked()        ? "locked"
                                                           : "unlocked";
        if (steering->last() && steering->last()->measured)
            st.realtime_offset_s = static_cast<double>(steering->last()->offset_ns) * 1e-9;
        st.realtime_steps = in.clock.realtime_steps();
        st.replies_across_step = in.driver.exchanges_across_step();
    }

    st.discipline = ctl::discipline_view(core, t);
    for (const io::InterfaceStamping& i : in.interfaces) {
        st.interfaces.push_back(ctl::InterfaceTimestampingInfo{
            i.name, i.rx, i.tx, i.hardware_capable, i.hardware_requested, i.phc_index, i.rx_filter,
            i.reason});
    }

    // Root delay and dispersion as the server answers with them (served_state()).
    snap.tracking = ctl::tracking_view(core, in.driver.served_state(), t);
    ctl::TrackingInfo& tr = snap.tracking;
    tr.reference_id = st.reference_id;
    tr.leap = st.leap;

    for (const ntp::SourceInfo& info : infos) {
        const ntp::NtpSource& src = *info.source;
        ctl::SourceInfo si = ctl::source_view(src, t);
        si.name = in.driver.source_name(src.id());
        si.address = src.config().address.ip.to_string();
        si.kind = info.pool ? "pool" : "server";
        // Offline (nanotimectl offline) says more than the last verdict.
        si.state = src.online() ? verdict_text(info.verdict, src.reach()) : "offline";
        if (sys.system_peer && *sys.system_peer == src.id()) {
            tr.reference_name = si.name + " (" + si.address + ")";
        }
        si.nts = src.uses_nts();
        if (const auto& x = src.last_exchange()) {
            si.last_interleaved = x->kind.interleaved;
            si.tx_timestamp_source = ntp::stamp_source_name(x->kind.transmit);
            si.rx_timestamp_source = ntp::stamp_source_name(x->kind.receive);
        }
        snap.sources.push_back(si);
        if (si.nts) snap.authdata.push_back(authdata_view(src, in.driver, si, t));

        ctl::SourceStatsInfo stats = ctl::sourcestats_view(src, core, t);
        stats.name = si.name + " (" + si.address + ")";
        snap.sourcestats.push_back(stats);

        ctl::NtpDataInfo nd = ctl::ntpdata_view(src, t);
        nd.name = si.name;
        nd.address = si.address;
        if (const auto& ex = src.last_exchange())
            nd.reference_id = reference_id_text(ex->reply.reference_id, ex->reply.stratum);
        snap.ntpdata.push_back(std::move(nd));

        ctl::SelectDataInfo sd = ctl::selectdata_view(src, info.verdict, t);
        sd.name = si.name;
        sd.address = si.address;
        snap.selectdata.push_back(std::move(sd));
    }

    for (const ntp::RefclockInfo& info : refclocks) {
        const ntp::RefclockSource& ref = *info.refclock;
        ctl::SourceInfo si = ctl::refclock_view(ref, t);
        si.name = in.driver.source_name(ref.id());
        if (const config::RefclockEntry* e = in.driver.refclock_entry(ref.id())) {
            si.kind = config::to_string(e->driver);
            si.address = e->driver == config::RefclockDriver::Shm
                             ? "unit " + std::to_string(e->unit)
                             : e->path;
        }
        si.state = verdict_text(info.verdict, ref.reach());
        if (sys.system_peer && *sys.system_peer == ref.id()) {
            tr.reference_name = si.name + " (" + si.kind + " " + si.address + ")";
        }
        snap.sources.push_back(si);
        ctl::SourceStatsInfo stats = ctl::sourcestats_view(ref, core, t);
        stats.name = si.name + " (" + si.kind + ")";
        stats.requests = ref.counters().polls;
        stats.replies = ref.counters().polls_with_samples;
        snap.sourcestats.push_back(stats);

        ctl::SelectDataInfo sd = ctl::selectdata_view(ref, info.verdict, t);
        sd.name = si.name;
        sd.address = si.kind + " " + si.address;
        snap.selectdata.push_back(std::move(sd));
    }

    // chronyc's activity: online or offline, and in a burst or not.
    for (const ntp::SourceInfo& info : infos) {
        const ntp::NtpSource& src = *info.source;
        if (src.in_burst()) {
            ++(src.online() ? snap.activity.burst_online : snap.activity.burst_offline);
        } else {
            ++(src.online() ? snap.activity.online : snap.activity.offline);
        }
    }
    snap.activity.unresolved = in.driver.unresolved_sources();

    fill_server_stats(in, snap.serverstats);
    if (in.server != nullptr) {
        snap.clients = clients_view(in.server->client_tables(), in.server->rate_limited(),
                                    in.timescale.now(), ctl::kMaxClientRows);
    }
    fill_kernel(in.kernel_clock, snap.kernel, snap.pps);
    if (in.kernel_link) in.kernel_link->fill(snap.kernel, snap.pps);
    return snap;
}

}  // namespace nanotime::daemon
