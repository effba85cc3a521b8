// metrics_text.cpp - the exporter's metrics written out (see
// metrics_text.hpp; the list with types and units: METRICS.md).
#include "metrics/metrics_text.hpp"

#include <bit>
#include <cmath>
#include <functional>

#include "metrics/exposition.hpp"

namespace nanotime::metrics {
namespace {

double leap_indicator(const std::string& leap) {
    if (leap == "none") return 0;
    if (leap == "insert") return 1;
    if (leap == "delete") return 2;
    return 3;
}

// Polls since the last answered one, at most 8: the zero bits below the
// lowest set bit of the reachability register.
uint64_t unanswered_polls(unsigned reach) {
    const uint8_t r = static_cast<uint8_t>(reach);
    return r == 0 ? 8 : static_cast<uint64_t>(std::countr_zero(r));
}

class Writer {
  public:
    void gauge(const char* name, const char* help, double value) {
        out.family(name, MetricType::Gauge, help);
        out.sample({}, value);
    }
    void counter(const char* name, const char* help, uint64_t value) {
        out.family(name, MetricType::Counter, help);
        out.sample({}, value);
    }
    // One sample per labelled value.
    template <typename T>
    void labelled(const char* name, MetricType type, const char* help,
                  const std::vector<std::pair<Labels, T>>& samples) {
        out.family(name, type, help);
        for (const auto& [labels, value] : samples) out.sample(labels, value);
    }

    Exposition out;
};

void system_metrics(Writer& w, const MetricsData& d) {
    const ctl::StatusInfo& st = d.snapshot.status;
    const ctl::TrackingInfo& tr = d.snapshot.tracking;
    w.labelled<double>("nanotime_uptime_seconds", MetricType::Gauge,
                       "Time that the daemon is running",
                       {{{{"version", st.version}}, st.uptime_s}});
    w.gauge("nanotime_system_stratum", "Stratum of our clock", st.stratum);
    w.gauge("nanotime_system_leap_indicator",
            "Leap indicator served (0 none, 1 insert, 2 delete, 3 unsynchronised)",
            leap_indicator(st.leap));
    w.gauge("nanotime_system_synchronized", "1 when the clock is synchronised to a source",
            st.synchronized ? 1 : 0);
    w.gauge("nanotime_system_root_delay_seconds", "Distance to the closest root time source",
            tr.root_delay_s);
    w.gauge("nanotime_system_root_dispersion_seconds",
            "Estimate of how precise our time is (as served now)", tr.root_dispersion_s);
    w.gauge("nanotime_system_offset_seconds",
            "Offset the last clock update worked from (positive: the local clock is behind)",
            tr.system_offset_s);
    w.gauge("nanotime_system_frequency_offset_ratio",
            "Frequency correction the local oscillator needs (fraction, 1e-6 = 1 ppm)",
            tr.frequency_ppm * 1e-6);
    w.gauge("nanotime_system_jitter_seconds", "Jitter of the combined offset", tr.jitter_s);
    w.gauge("nanotime_system_accumulated_steps_seconds",
            "Absolute sizes of the clock steps made, added up", d.clock_stepped_s);
    w.counter("nanotime_system_steps_total", "Clock steps made by the discipline", d.clock_steps);
    w.gauge("nanotime_sources", "Sources configured or found in pools", st.sources);
    w.gauge("nanotime_sources_reachable", "Sources that answered one of the last 8 polls",
            st.sources_reachable);
    w.counter("nanotime_datagrams_truncated_total",
              "Datagrams larger than the receive buffer, dropped unread", st.datagrams_truncated);
    w.counter("nanotime_log_lines_suppressed_total", "Log lines withheld by the rate limiter",
              st.log_suppressed);
    w.out.family("nanotime_clock_update_offset_seconds", MetricType::Histogram,
                 "Offset each clock update worked from");
    w.out.histogram({}, d.system_offset);
}

void source_metrics(Writer& w, const MetricsData& d) {
    const auto& sources = d.snapshot.sources;
    std::vector<Labels> labels;
    labels.reserve(sources.size());
    for (const ctl::SourceInfo& s : sources)
        labels.push_back({{"name", s.name}, {"address", s.address}});
    auto each = [&](const char* name, MetricType type, const char* help, auto value_of) {
        w.out.family(name, type, help);
        for (size_t i = 0; i < sources.size(); ++i) w.out.sample(labels[i], value_of(i));
    };
    const auto& stats = d.snapshot.sourcestats;
    auto stat = [&](size_t i) -> const ctl::SourceStatsInfo* {
        return i < stats.size() ? &stats[i] : nullptr;
    };
    auto extra = [&](size_t i) -> const SourceMetrics* {
        return i < d.sources.size() ? &d.sources[i] : nullptr;
    };
    w.out.family("nanotime_source_info", MetricType::Gauge,
                 "A source's kind, selection state and NTS use (value 1)");
    for (size_t i = 0; i < sources.size(); ++i) {
        Labels l = labels[i];
        l.emplace_back("kind", sources[i].kind);
        l.emplace_back("state", sources[i].state);
        l.emplace_back("nts", sources[i].nts ? "true" : "false");
        w.out.sample(l, 1.0);
    }
    each("nanotime_source_poll_interval_seconds", MetricType::Gauge,
         "Time between polls of the source",
         [&](size_t i) { return std::ldexp(1.0, sources[i].poll); });
    each("nanotime_source_unanswered_polls", MetricType::Gauge,
         "Number of polls since the last successful poll with a maximum of eight",
         [&](size_t i) { return unanswered_polls(sources[i].reach); });
    each("nanotime_source_reachability", MetricType::Gauge,
         "The 8-bit reachability register (bit 0: the last poll)",
         [&](size_t i) { return static_cast<uint64_t>(sources[i].reach); });
    each("nanotime_source_stratum", MetricType::Gauge, "Stratum of the source",
         [&](size_t i) { return static_cast<double>(sources[i].stratum); });
    each("nanotime_source_offset_seconds", MetricType::Gauge,
         "Offset between the upstream source and system time (newest sample)",
         [&](size_t i) { return sources[i].offset_s; });
    each("nanotime_source_delay_seconds", MetricType::Gauge,
         "Current round-trip delay to the upstream source",
         [&](size_t i) { return sources[i].delay_s; });
    each("nanotime_source_uncertainty_seconds", MetricType::Gauge,
         "Estimated error of the source clock (standard deviation of its offset estimate)",
         [&](size_t i) { return stat(i) ? stat(i)->offset_sd_s : 0.0; });
    each("nanotime_source_jitter_seconds", MetricType::Gauge, "Clock filter jitter",
         [&](size_t i) { return sources[i].jitter_s; });
    each("nanotime_source_root_delay_seconds", MetricType::Gauge,
         "Root delay reported by the time source",
         [&](size_t i) { return extra(i) ? extra(i)->root_delay_s : 0.0; });
    each("nanotime_source_root_dispersion_seconds", MetricType::Gauge,
         "Uncertainty reported by the time source",
         [&](size_t i) { return extra(i) ? extra(i)->root_dispersion_s : 0.0; });
    each("nanotime_source_requests_total", MetricType::Counter, "Requests sent to the source",
         [&](size_t i) { return stat(i) ? stat(i)->requests : uint64_t{0}; });
    each("nanotime_source_replies_total", MetricType::Counter,
         "Replies from the source that gave a sample",
         [&](size_t i) { return stat(i) ? stat(i)->replies : uint64_t{0}; });
    w.out.family("nanotime_source_sample_offset_seconds", MetricType::Histogram,
                 "Offset of each new sample from the source");
    for (size_t i = 0; i < sources.size(); ++i) {
        if (extra(i) && !extra(i)->offset.bounds.empty())
            w.out.histogram(labels[i], extra(i)->offset);
    }

    // NTS sources (authdata is in the order of the NTS sources).
    std::vector<std::pair<Labels, uint64_t>> cookies, ke_ok, ke_failed, naks, rejected;
    size_t a = 0;
    for (size_t i = 0; i < sources.size() && a < d.snapshot.authdata.size(); ++i) {
        if (!sources[i].nts) continue;
        const ctl::AuthDataInfo& auth = d.snapshot.authdata[a++];
        cookies.emplace_back(labels[i], auth.cookies);
        Labels ok = labels[i], failed = labels[i];
        ok.emplace_back("result", "ok");
        failed.emplace_back("result", "failed");
        ke_ok.emplace_back(ok, auth.key_exchanges_ok);
        ke_ok.emplace_back(failed, auth.key_exchanges_failed);
        naks.emplace_back(labels[i], auth.naks);
        rejected.emplace_back(labels[i], auth.rejected);
    }
    w.labelled("nanotime_source_nts_cookies", MetricType::Gauge,
               "NTS cookies in the source's jar (8 when full)", cookies);
    w.labelled("nanotime_source_nts_key_exchanges_total", MetricType::Counter,
               "NTS-KE sessions the source ran, by result", ke_ok);
    w.labelled("nanotime_source_nts_naks_total", MetricType::Counter,
               "NTS NAK kiss-o'-death replies to our requests", naks);
    w.labelled("nanotime_source_nts_rejected_total", MetricType::Counter,
               "Replies that failed the NTS checks", rejected);
}

void server_metrics(Writer& w, const MetricsData& d) {
    const ntp::ServerCounters& c = d.server;
    const ctl::ServerStatsInfo& s = d.snapshot.serverstats;
    if (s.ntp) {
        w.counter("nanotime_server_received_packets_total", "Number of incoming packets",
                  c.received);
        w.counter("nanotime_server_accepted_packets_total", "Number of packets answered",
                  c.replied);
        w.counter("nanotime_server_denied_packets_total",
                  "Number of packets denied by the access list", c.denied);
        w.counter("nanotime_server_ignored_packets_total",
                  "Number of packets ignored (malformed, not a client request, MAC, bad NTS)",
                  c.malformed + c.wrong_mode + c.authenticated + c.nts_dropped);
        w.counter("nanotime_server_rate_limited_packets_total",
                  "Number of rate limited packets (kiss-o'-death sent or dropped)",
                  c.rate_limited_kod + c.rate_limited_dropped);
        w.counter("nanotime_server_interleaved_packets_total",
                  "Number of packets answered in interleaved mode", c.interleaved);
        w.counter("nanotime_server_tx_timestamps_total",
                  "Number of kernel transmit timestamps kept for interleaved replies", c.tx_stamps);
        w.out.family("nanotime_server_request_latency_seconds", MetricType::Histogram,
                     "Request receive timestamp to the reply's transmit timestamp");
        w.out.histogram({}, d.server_latency);
    }
    if (s.nts) {
        w.counter("nanotime_server_nts_accepted_packets_total",
                  "Number of NTS packets answered with an authenticator", s.nts_authentic);
        w.counter("nanotime_server_nts_nak_packets_total", "Number of NTS NAK responses to packets",
                  s.nts_nak);
        w.labelled<uint64_t>("nanotime_server_nts_dropped_packets_total", MetricType::Counter,
                             "NTS packets dropped, by reason",
                             {{{{"reason", "malformed"}}, s.nts_malformed},
                              {{{"reason", "missing_field"}}, s.nts_missing_field},
                              {{{"reason", "auth_failed"}}, s.nts_auth_failed},
                              {{{"reason", "no_sealing_key"}}, s.nts_no_sealing_key},
                              {{{"reason", "crypto_failure"}}, s.nts_crypto_failure}});
    }
    if (s.nts_ke) {
        w.counter("nanotime_nts_ke_connections_total", "NTS-KE connections admitted",
                  s.ke_accepted);
        w.counter("nanotime_nts_ke_handshakes_total",
                  "NTS-KE sessions that agreed NTPv4 and an AEAD and sent cookies",
                  s.ke_keys_issued);
        w.labelled<uint64_t>("nanotime_nts_ke_failures_total", MetricType::Counter,
                             "NTS-KE sessions failed, by reason",
                             {{{{"reason", "no_common_protocol"}}, s.ke_no_common_protocol},
                              {{{"reason", "no_common_aead"}}, s.ke_no_common_aead},
                              {{{"reason", "bad_request"}}, s.ke_bad_request},
                              {{{"reason", "unrecognized_critical"}}, s.ke_unrecognized_critical},
                              {{{"reason", "internal_error"}}, s.ke_internal_error},
                              {{{"reason", "tls_failed"}}, s.ke_tls_failed},
                              {{{"reason", "timed_out"}}, s.ke_timed_out},
                              {{{"reason", "refused"}}, s.ke_refused}});
        w.counter("nanotime_nts_ke_certificate_reloads_total", "NTS-KE certificate re-reads",
                  s.ke_certificate_reloads);
        w.counter("nanotime_nts_ke_server_deny_total", "NTP Server Deny records received",
                  s.ke_server_deny);
    }
    if (s.nts_ke && s.ke_pool) {
        w.labelled<uint64_t>("nanotime_nts_ke_pool_requests_total", MetricType::Counter,
                             "NTS pool requests served, by kind",
                             {{{{"kind", "supported_lists"}}, s.ke_pool_support_served},
                              {{{"kind", "fixed_key"}}, s.ke_pool_fixed_key_served}});
        w.labelled<uint64_t>("nanotime_nts_ke_pool_refused_total", MetricType::Counter,
                             "NTS pool requests refused, by reason",
                             {{{{"reason", "no_certificate"}}, s.ke_pool_refused_no_certificate},
                              {{{"reason", "certificate"}}, s.ke_pool_refused_certificate},
                              {{{"reason", "token"}}, s.ke_pool_refused_token},
                              {{{"reason", "malformed"}}, s.ke_pool_refused_malformed},
                              {{{"reason", "protocol"}}, s.ke_pool_refused_protocol},
                              {{{"reason", "aead"}}, s.ke_pool_refused_aead},
                              {{{"reason", "internal"}}, s.ke_pool_refused_internal}});
        w.counter("nanotime_nts_ke_pool_keep_alive_sessions_total",
                  "NTS pool sessions admitted to Keep Alive", s.ke_pool_keep_alive_sessions);
        w.counter("nanotime_nts_ke_pool_keep_alive_refused_total",
                  "Keep Alive asked while pool_max_sessions were open",
                  s.ke_pool_keep_alive_refused);
        w.gauge("nanotime_nts_ke_pool_keep_alive_open", "NTS pool Keep Alive sessions open",
                static_cast<double>(s.ke_pool_keep_alive_open));
    }
    if (s.keys) {
        w.gauge("nanotime_nts_master_keys", "NTS master keys held", s.keys_held);
        w.counter("nanotime_nts_master_key_rotations_total", "NTS master keys rotated in",
                  s.key_rotations);
        w.counter("nanotime_nts_master_key_failures_total",
                  "NTS master key file reads or writes that failed", s.key_failures);
    }
}

void kernel_metrics(Writer& w, const MetricsData& d) {
    const ctl::KernelInfo& k = d.snapshot.kernel;
    if (!k.available) return;
    w.labelled<double>("nanotime_kernel_clock_info", MetricType::Gauge,
                       "The disciplined kernel clock and its adjtimex state (value 1)",
                       {{{{"clock", k.clock}, {"state", k.state_name}}, 1.0}});
    std::vector<std::pair<Labels, double>> flags;
    for (const std::string& f : k.status) flags.emplace_back(Labels{{"flag", f}}, 1.0);
    w.labelled("nanotime_kernel_status_flag", MetricType::Gauge,
               "adjtimex status flags set (STA_*, value 1)", flags);
    w.gauge("nanotime_kernel_offset_seconds", "Kernel PLL/FLL offset (adjtimex offset)",
            k.offset_s);
    w.gauge("nanotime_kernel_frequency_offset_ratio",
            "Kernel clock frequency correction (fraction, 1e-6 = 1 ppm)", k.frequency_ppm * 1e-6);
    w.gauge("nanotime_kernel_max_error_seconds", "Kernel maximum error", k.max_error_s);
    w.gauge("nanotime_kernel_estimated_error_seconds", "Kernel estimated error", k.est_error_s);
    w.gauge("nanotime_kernel_time_constant", "Kernel PLL time constant (log2)",
            static_cast<double>(k.time_constant));
    w.gauge("nanotime_kernel_tai_offset_seconds", "TAI - UTC as the kernel holds it", k.tai_offset);
    if (k.netlink == "ok") {
        w.counter("nanotime_kernel_events_total", "nanoclock netlink events received", k.events);
        w.counter("nanotime_kernel_events_lost_total",
                  "nanoclock netlink events dropped by the kernel", k.events_lost);
    }

    const ctl::PpsInfo& p = d.snapshot.pps;
    w.gauge("nanotime_pps_signal", "1 while the kernel sees a PPS signal (STA_PPSSIGNAL)",
            p.signal ? 1 : 0);
    w.gauge("nanotime_pps_discipline_frequency", "1 when PPS disciplines frequency (STA_PPSFREQ)",
            p.discipline_frequency ? 1 : 0);
    w.gauge("nanotime_pps_discipline_time", "1 when PPS disciplines time (STA_PPSTIME)",
            p.discipline_time ? 1 : 0);
    w.gauge("nanotime_pps_frequency_offset_ratio", "PPS frequency (fraction, 1e-6 = 1 ppm)",
            p.frequency_ppm * 1e-6);
    w.gauge("nanotime_pps_jitter_seconds", "PPS jitter", p.jitter_s);
    w.gauge("nanotime_pps_stability_ratio", "PPS frequency stability (fraction)",
            p.stability_ppm * 1e-6);
    w.gauge("nanotime_pps_interval_seconds", "PPS calibration interval",
            std::ldexp(1.0, p.interval_log2));
    w.counter("nanotime_pps_calibrations_total", "PPS calibration intervals",
              static_cast<uint64_t>(std::max<int64_t>(0, p.calibrations)));
    w.counter("nanotime_pps_jitter_exceeded_total", "PPS jitter limit exceeded",
              static_cast<uint64_t>(std::max<int64_t>(0, p.jitter_exceeded)));
    w.counter("nanotime_pps_calibration_errors_total", "PPS calibration errors",
              static_cast<uint64_t>(std::max<int64_t>(0, p.calibration_errors)));
    w.counter("nanotime_pps_stability_exceeded_total", "PPS stability limit exceeded",
              static_cast<uint64_t>(std::max<int64_t>(0, p.stability_exceeded)));
    std::vector<std::pair<Labels, uint64_t>> edges, fed, rejected;
    std::vector<std::pair<Labels, double>> phase, jitter;
    for (const ctl::PpsSourceInfo& s : p.sources) {
        const Labels l{{"name", s.name}, {"kind", s.kind}};
        edges.emplace_back(l, s.edges);
        fed.emplace_back(l, s.fed);
        rejected.emplace_back(l, s.rejected);
        phase.emplace_back(l, s.phase_s);
        jitter.emplace_back(l, s.jitter_s);
    }
    w.labelled("nanotime_pps_source_edges_total", MetricType::Counter,
               "Edges seen by a nanoclock PPS source", edges);
    w.labelled("nanotime_pps_source_fed_total", MetricType::Counter,
               "Edges fed to the clock's hardpps", fed);
    w.labelled("nanotime_pps_source_rejected_total", MetricType::Counter,
               "Edges rejected (popcorn, gaps, ...)", rejected);
    w.labelled("nanotime_pps_source_phase_seconds", MetricType::Gauge,
               "Clock phase at the last fed edge", phase);
    w.labelled("nanotime_pps_source_jitter_seconds", MetricType::Gauge,
               "Average absolute phase step between edges", jitter);
}

}  // namespace

std::string render_metrics(const MetricsData& data) {
    Writer w;
    system_metrics(w, data);
    source_metrics(w, data);
    server_metrics(w, data);
    kernel_metrics(w, data);
    return w.out.text();
}

}  // namespace nanotime::metrics
