#include "nanotimectl/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "ctl/snapshot_json.hpp"
#include "nanotimectl/format_sources.hpp"
#include "nts/nts_keys.hpp"

namespace nanotime::ctl {
namespace {

std::string printf_string(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

// The AEAD's name for authdata; "-" before NTS-KE, the number for an id
// this nanotimectl does not know (a newer daemon).
std::string aead_text(unsigned id) {
    if (id == 0) return "-";
    const char* name = id <= 0xffff ? nts::aead_name(static_cast<uint16_t>(id)) : nullptr;
    return name != nullptr ? name : std::to_string(id);
}

std::string ago(double s) {
    if (s < 0) return "-";
    if (s < 120) return printf_string("%.0fs", s);
    if (s < 7200) return printf_string("%.0fm", s / 60);
    if (s < 172800) return printf_string("%.0fh", s / 3600);
    return printf_string("%.0fd", s / 86400);
}

char state_mark(const std::string& state) {
    if (state == "selected") return '*';
    if (state == "candidate") return '+';
    if (state == "outlier") return '-';
    if (state == "falseticker") return 'x';
    if (state == "unreachable") return '?';
    return '~';
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& e : v) s += (s.empty() ? "" : " ") + e;
    return s.empty() ? "-" : s;
}

}  // namespace

void select_clients(nlohmann::json& data, uint64_t min_packets, ClientOrder order) {
    auto rows = data.at("clients").get<std::vector<ClientInfo>>();
    std::erase_if(rows, [&](const ClientInfo& c) { return c.ntp_requests < min_packets; });
    if (order == ClientOrder::Packets) {
        std::stable_sort(rows.begin(), rows.end(), [](const ClientInfo& a, const ClientInfo& b) {
            return a.ntp_requests > b.ntp_requests;
        });
    } else {
        std::stable_sort(rows.begin(), rows.end(), [](const ClientInfo& a, const ClientInfo& b) {
            return a.last_seen_ago_s < b.last_seen_ago_s;
        });
    }
    data["clients"] = rows;
}

std::string format_seconds(double s) {
    const double a = std::fabs(s);
    if (a == 0) return "0 s";
    if (a < 1e-6) return printf_string("%.0f ns", s * 1e9);
    if (a < 1e-3) return printf_string("%.3f us", s * 1e6);
    if (a < 1) return printf_string("%.3f ms", s * 1e3);
    return printf_string("%.6f s", s);
}

std::string format_human(const std::string& command, const nlohmann::json& data) {
    if (command == "ntpdata") return format_ntpdata(data);
    if (command == "selectdata") return format_selectdata(data);
    if (command == "activity") return format_activity(data);
    // Management commands: the daemon's sentence of what it did.
    if (data.contains("message") && data["message"].is_string())
        return data["message"].get<std::string>() + "\n";
    std::ostringstream out;
    if (command == "status") {
        const StatusInfo s = data.get<StatusInfo>();
        out << "nanotimed " << s.version << ", pid " << s.pid << ", up " << ago(s.uptime_s) << "\n"
            << "Synchronised     : " << (s.synchronized ? "yes" : "no") << "\n"
            << "Stratum          : " << s.stratum << "\n"
            << "Reference ID     : " << s.reference_id << "\n"
            << "Leap status      : " << s.leap << "\n"
            << "Sources          : " << s.sources_reachable << " of " << s.sources << " reachable\n"
            << "Clock            : " << s.clock_backend << " (" << s.clock_device << ")\n"
            << "Leap file        : "
            << (s.leap_file.empty()
                    ? std::string("none")
                    : s.leap_file + ", TAI-UTC " + std::to_string(s.tai_offset) + " s, expires " +
                          printf_string("%.0f", s.leap_file_expires_s) + " (Unix)")
            << "\n"
            << "Realtime steering: " << s.realtime_steering
            << (s.realtime_steering == "off" ? std::string()
                                             : ", offset " + format_seconds(s.realtime_offset_s))
            << "\n"
            << "I/O              : " << s.io_detail << "\n"
            << "Server           : ";
        if (s.server_enabled) {
            out << s.server_received << " received, " << s.server_responded << " answered, "
                << s.server_denied << " denied, " << s.server_rate_limited << " rate-limited, "
                << s.server_malformed << " malformed\n";
        } else {
            out << "off\n";
        }
        out << "Truncated drops  : " << s.datagrams_truncated
            << " (datagrams larger than the receive buffer)\n";
        out << "Log lines withheld: " << s.log_suppressed << "\n";
        // One line per interface: its RX and TX stamp sources, and why.
        for (const InterfaceTimestampingInfo& i : s.interfaces) {
            out << "Timestamps " << i.name
                << std::string(i.name.size() < 6 ? 6 - i.name.size() : 0, ' ') << ": RX " << i.rx
                << ", TX " << i.tx << " (" << i.reason << ")\n";
        }
        const DisciplineInfo& d = s.discipline;
        out << "Discipline       : ";
        if (!d.adjusting) out << "watching only (clock.adjust = false), ";
        if (d.updates == 0 && d.last_update_age_s < 0) {
            out << "no update yet\n";
        } else {
            out << d.updates << " updates, last " << ago(d.last_update_age_s) << " ago"
                << printf_string(" (%.1f polls)", d.polls_since_update) << ", frequency "
                << printf_string("%+.3f ppm", d.frequency_ppm) << (d.slewing ? ", slewing" : "")
                << "\n";
        }
        out << "Faults           : ";
        if (d.faults.empty()) out << "none";
        if (d.frequency_limited) {
            out << printf_string("frequency pinned at the %.0f ppm limit (offsets will grow)",
                                 d.max_frequency_ppm);
        }
        if (d.stalled) {
            out << (d.frequency_limited ? "; " : "") << "stalled: no clock update for "
                << ago(d.last_update_age_s) << printf_string(" (%.1f polls, ", d.polls_since_update)
                << d.stall_polls << " make a stall)";
        }
        if (d.restarts > 0) {
            out << (d.faults.empty() ? " (" : "; ") << "estimates restarted " << d.restarts
                << (d.restarts == 1 ? " time" : " times") << (d.faults.empty() ? ")" : "");
        }
        out << "\n";
    } else if (command == "tracking") {
        const TrackingInfo t = data.get<TrackingInfo>();
        out << "Reference ID    : " << t.reference_id << " " << t.reference_name << "\n"
            << "Stratum         : " << t.stratum << "\n"
            << "Ref time (Unix) : " << printf_string("%.6f", t.reference_time_s) << "\n"
            << "System offset   : " << format_seconds(t.system_offset_s)
            << (t.system_offset_s >= 0 ? " (local clock behind)" : " (local clock ahead)") << ", "
            << ago(t.system_offset_age_s) << " ago\n"
            << "Offset sd       : " << format_seconds(t.offset_sd_s) << "\n"
            << "Frequency       : " << printf_string("%+.3f ppm", t.frequency_ppm) << "\n"
            << "Residual freq   : " << printf_string("%+.3f ppm", t.residual_frequency_ppm) << "\n"
            << "Skew            : " << printf_string("%.3f ppm", t.skew_ppm) << "\n"
            << "Std dev         : " << format_seconds(t.std_dev_s) << "\n"
            << "System jitter   : " << format_seconds(t.jitter_s) << "\n"
            << "Root delay      : " << format_seconds(t.root_delay_s) << " (served)\n"
            << "Root dispersion : " << format_seconds(t.root_dispersion_s)
            << printf_string(" (served, growing %.3f ppm)", t.root_dispersion_rate_ppm) << "\n"
            << "Update interval : " << printf_string("%.0f s", t.update_interval_s) << "\n"
            << "Leap status     : " << t.leap << "\n";
    } else if (command == "sources") {
        const auto sources = data.at("sources").get<std::vector<SourceInfo>>();
        out << printf_string("S %-28s %-6s %-4s %2s %4s %4s %6s %12s %12s %12s\n", "Name/address",
                             "Kind", "Auth", "St", "Poll", "Reach", "LastRx", "Offset", "Delay",
                             "Jitter");
        out << std::string(103, '=') << "\n";
        for (const SourceInfo& s : sources) {
            std::string name =
                s.address == s.name || s.name == "-" ? s.address : s.name + " " + s.address;
            if (name.size() > 28) name.replace(27, std::string::npos, "~");
            out << printf_string(
                "%c %-28s %-6s %-4s %2d %4d %5o %6s %12s %12s %12s\n", state_mark(s.state),
                name.c_str(), s.kind.c_str(), s.nts ? "NTS" : "-", s.stratum, s.poll, s.reach,
                ago(s.last_rx_ago_s).c_str(), format_seconds(s.offset_s).c_str(),
                format_seconds(s.delay_s).c_str(), format_seconds(s.jitter_s).c_str());
        }
        out << "(* selected, + candidate, - outlier, x falseticker, ? unreachable, ~ unfit;\n"
               " LastRx, Offset and Delay: the newest sample, offset server minus local)\n";
        // NTP sources: how the newest sample was measured.
        for (const SourceInfo& s : sources) {
            if (s.tx_timestamp_source.empty()) continue;
            out << printf_string("%s %s: newest sample %s, TX stamp %s, RX stamp %s\n",
                                 s.kind.c_str(), s.address.c_str(),
                                 s.last_interleaved ? "interleaved" : "basic",
                                 s.tx_timestamp_source.c_str(), s.rx_timestamp_source.c_str());
        }
        // Refclocks: what their drivers took in and refused, so that a
        // silent one (gpsd without a fix, a bad SHM segment) says why.
        for (const SourceInfo& s : sources) {
            if (s.kind == "server" || s.kind == "pool") continue;
            out << printf_string("refclock %s (%s %s): %llu readings, %llu refused", s.name.c_str(),
                                 s.kind.c_str(), s.address.c_str(),
                                 static_cast<unsigned long long>(s.samples),
                                 static_cast<unsigned long long>(s.rejected));
            if (!s.last_error.empty()) out << ", last: " << s.last_error;
            out << "\n";
        }
    } else if (command == "sourcestats") {
        const auto stats = data.at("sourcestats").get<std::vector<SourceStatsInfo>>();
        out << printf_string("%-36s %3s %6s %11s %10s %12s %12s\n", "Name/address", "NP", "Span",
                             "Frequency", "Freq Skew", "Offset", "Std Dev");
        out << std::string(96, '=') << "\n";
        for (const SourceStatsInfo& s : stats) {
            std::string name = s.name.size() > 36 ? s.name.substr(0, 35) + "~" : s.name;
            out << printf_string("%-36s %3u %6s %11s %10s %12s %12s\n", name.c_str(), s.samples,
                                 ago(s.samples > 0 ? s.span_s : -1).c_str(),
                                 printf_string("%+.3f", s.frequency_ppm).c_str(),
                                 printf_string("%.3f", s.skew_ppm).c_str(),
                                 format_seconds(s.offset_s).c_str(),
                                 format_seconds(s.std_dev_s).c_str());
        }
        out << "(frequency and skew in ppm; offsets server minus local: chronyc shows both "
               "with the opposite sign)\n";
    } else if (command == "authdata") {
        const auto auth = data.at("authdata").get<std::vector<AuthDataInfo>>();
        if (auth.empty()) return "No NTS sources.\n";
        out << printf_string("%-24s %-4s %-16s %4s %5s %5s %6s %5s %8s\n", "Name/address", "Mode",
                             "AEAD", "Cook", "KE ok", "KE no", "LastKE", "NAK", "Rejected");
        out << std::string(87, '=') << "\n";
        for (const AuthDataInfo& a : auth) {
            std::string name = a.name + " " + a.address;
            if (name.size() > 24) name.replace(23, std::string::npos, "~");
            out << printf_string("%-24s %-4s %-16s %4u %5llu %5llu %6s %5llu %8llu\n", name.c_str(),
                                 a.mode.c_str(), aead_text(a.aead).c_str(), a.cookies,
                                 static_cast<unsigned long long>(a.key_exchanges_ok),
                                 static_cast<unsigned long long>(a.key_exchanges_failed),
                                 ago(a.last_key_exchange_ago_s).c_str(),
                                 static_cast<unsigned long long>(a.naks),
                                 static_cast<unsigned long long>(a.rejected));
            if (!a.last_error.empty()) out << "  last NTS-KE failure: " << a.last_error << "\n";
        }
        out << "(AEAD: the algorithm NTS-KE agreed, - before keys; Cook: cookies held; KE ok/no:\n"
               " NTS-KE exchanges done/failed; NAK: NTSN received; Rejected: replies failing "
               "NTS)\n";
    } else if (command == "serverstats") {
        const ServerStatsInfo s = data.get<ServerStatsInfo>();
        auto n = [](uint64_t v) { return std::to_string(v); };
        out << "NTP requests    : ";
        if (s.ntp) {
            out << n(s.ntp_received) << " received, " << n(s.ntp_responded) << " answered, "
                << n(s.ntp_denied) << " denied, " << n(s.ntp_rate_limited) << " rate-limited, "
                << n(s.ntp_malformed) << " malformed\n";
            out << "NTP interleaved : " << n(s.ntp_interleaved) << " answered, "
                << n(s.ntp_tx_stamps) << " kernel TX stamps\n";
        } else {
            out << "off\n";
        }
        out << "NTS requests    : ";
        if (s.nts) {
            out << n(s.nts_authentic) << " authenticated, " << n(s.nts_nak)
                << " NAK (cookie: " << n(s.cookie_unknown_key) << " unknown key, "
                << n(s.cookie_auth_failed) << " forged, " << n(s.cookie_bad_contents) << " bad), "
                << n(s.nts_dropped) << " dropped (" << n(s.nts_malformed) << " malformed, "
                << n(s.nts_missing_field) << " incomplete, " << n(s.nts_auth_failed)
                << " failed authentication, " << n(s.nts_no_sealing_key) << " no key, "
                << n(s.nts_crypto_failure) << " crypto)\n";
        } else {
            out << "off\n";
        }
        out << "NTS-KE          : ";
        if (s.nts_ke) {
            out << n(s.ke_accepted) << " connections, " << n(s.ke_keys_issued)
                << " keys issued; failed: " << n(s.ke_tls_failed) << " TLS, " << n(s.ke_timed_out)
                << " timed out, " << n(s.ke_bad_request) << " bad request, "
                << n(s.ke_unrecognized_critical) << " unknown critical, " << n(s.ke_internal_error)
                << " internal, " << n(s.ke_no_common_protocol) << " no NTPv4, "
                << n(s.ke_no_common_aead) << " no AEAD; " << n(s.ke_refused)
                << " refused at accept; certificate re-read " << n(s.ke_certificate_reloads)
                << " times\n";
            if (s.ke_pool) {
                out << "NTS pool        : " << n(s.ke_pool_fixed_key_served) << " fixed keys, "
                    << n(s.ke_pool_support_served)
                    << " supported lists; refused: " << n(s.ke_pool_refused_no_certificate)
                    << " no certificate, " << n(s.ke_pool_refused_certificate) << " wrong CA, "
                    << n(s.ke_pool_refused_token) << " token, " << n(s.ke_pool_refused_malformed)
                    << " malformed, " << n(s.ke_pool_refused_protocol) << " protocol, "
                    << n(s.ke_pool_refused_aead) << " AEAD, " << n(s.ke_pool_refused_internal)
                    << " internal; keep-alive " << n(s.ke_pool_keep_alive_open) << " open, "
                    << n(s.ke_pool_keep_alive_sessions) << " admitted, "
                    << n(s.ke_pool_keep_alive_refused) << " over the cap; " << n(s.ke_server_deny)
                    << " server denies\n";
            }
        } else {
            out << "off\n";
        }
        out << "NTS master keys : ";
        if (s.keys) {
            out << s.keys_held << " held, sealing with " << printf_string("%08x", s.key_sealing_id)
                << (s.keys_writer ? ", rotated here (" : ", read from the key file (")
                << n(s.key_rotations) << " rotations, " << n(s.key_loads) << " loads, "
                << n(s.key_failures) << " failures)\n";
            if (!s.key_last_error.empty()) out << "  last failure: " << s.key_last_error << "\n";
        } else {
            out << "none\n";
        }
    } else if (command == "clients") {
        const ClientsInfo c = data.get<ClientsInfo>();
        if (!c.ntp) return "Not serving NTP ([server] listens nowhere).\n";
        if (!c.rate_limit) return "Rate limiting is off: no client table to list.\n";
        out << printf_string("%-39s %10s %8s %8s %8s %8s %6s\n", "Address", "NTP", "Drop", "KoD",
                             "NTS", "Intl", "Last");
        out << std::string(92, '=') << "\n";
        for (const ClientInfo& r : c.clients) {
            out << printf_string("%-39s %10llu %8llu %8llu %8llu %8llu %6s\n", r.address.c_str(),
                                 static_cast<unsigned long long>(r.ntp_requests),
                                 static_cast<unsigned long long>(r.ntp_drops),
                                 static_cast<unsigned long long>(r.ntp_kod),
                                 static_cast<unsigned long long>(r.nts_requests),
                                 static_cast<unsigned long long>(r.ntp_interleaved),
                                 ago(r.last_seen_ago_s).c_str());
        }
        if (c.truncated) {
            out << "(" << c.tracked << " clients in the rate-limit tables; only the " << c.max_rows
                << " seen most recently were sent)\n";
        }
        if (c.reset) out << "(counters reset)\n";
    } else if (command == "kernel") {
        const KernelInfo k = data.get<KernelInfo>();
        out << "Clock           : " << k.clock << "\n";
        if (!k.available) return out.str() + "(the clock could not be read)\n";
        out << "State           : " << k.state_name << "\n"
            << "Status          : " << join(k.status) << "\n"
            << "Offset          : " << format_seconds(k.offset_s) << "\n"
            << "Frequency       : " << printf_string("%+.3f ppm", k.frequency_ppm) << "\n"
            << "Max error       : " << format_seconds(k.max_error_s) << "\n"
            << "Est. error      : " << format_seconds(k.est_error_s) << "\n"
            << "Time constant   : " << k.time_constant << "\n"
            << "Precision       : " << format_seconds(k.precision_s) << "\n"
            << "Tolerance       : " << printf_string("%.0f ppm", k.tolerance_ppm) << "\n"
            << "Tick            : " << format_seconds(k.tick_s) << "\n"
            << "TAI offset      : " << k.tai_offset << " s\n";
        if (!k.netlink.empty()) {
            out << "Netlink         : " << k.netlink << "\n";
            if (k.ptp_index >= 0) out << "PTP clock       : /dev/ptp" << k.ptp_index << "\n";
            out << "Events          : " << k.events << " (lost " << k.events_lost << ")"
                << (k.last_events.empty() ? "" : ": " + join(k.last_events)) << "\n";
        }
    } else if (command == "pps") {
        const PpsInfo p = data.get<PpsInfo>();
        if (!p.available && p.sources.empty() && p.bridges.empty())
            return "No PPS signal on this clock.\n";
        out << "Signal          : " << (p.signal ? "present" : "absent") << "\n"
            << "Discipline      : " << (p.discipline_time ? "time " : "")
            << (p.discipline_frequency ? "frequency" : "")
            << ((p.discipline_time || p.discipline_frequency) ? "" : "off") << "\n"
            << "Frequency       : " << printf_string("%+.3f ppm", p.frequency_ppm) << "\n"
            << "Jitter          : " << format_seconds(p.jitter_s) << "\n"
            << "Interval        : " << (1 << std::max(0, p.interval_log2)) << " s\n"
            << "Stability       : " << printf_string("%.3f ppm", p.stability_ppm) << "\n"
            << "Calibrations    : " << p.calibrations << " (errors " << p.calibration_errors
            << ")\n"
            << "Jitter exceeded : " << p.jitter_exceeded << "\n"
            << "Wander exceeded : " << p.stability_exceeded << "\n";
        if (!p.sources.empty()) {
            out << "\n"
                << printf_string("%-10s %-6s %-6s %-6s %-3s %8s %8s %6s %11s %11s %9s\n", "Source",
                                 "Kind", "Device", "Clock", "T F", "Edges", "Fed", "Rej", "Phase",
                                 "Jitter", "Cost");
            out << std::string(96, '=') << "\n";
            for (const PpsSourceInfo& s : p.sources) {
                const std::string dev =
                    s.pps_device >= 0 ? "pps" + std::to_string(s.pps_device) : "-";
                const std::string clk = s.clock >= 0 ? "nc" + std::to_string(s.clock) : "-";
                out << printf_string(
                    "%-10s %-6s %-6s %-6s %c %c %8llu %8llu %6llu %11s %11s %9s\n", s.name.c_str(),
                    s.kind.c_str(), dev.c_str(), clk.c_str(), s.time ? 'T' : '-',
                    s.frequency ? 'F' : '-', static_cast<unsigned long long>(s.edges),
                    static_cast<unsigned long long>(s.fed),
                    static_cast<unsigned long long>(s.rejected), format_seconds(s.phase_s).c_str(),
                    format_seconds(s.jitter_s).c_str(), format_seconds(s.cost_mean_s).c_str());
                if (!s.binding_error.empty())
                    out << "  " << s.name << ": not bound: " << s.binding_error << "\n";
            }
        }
        if (!p.bridges.empty()) {
            out << "\n"
                << printf_string("%-12s %-10s %-6s %-6s %8s %8s %6s %6s %7s\n", "Bridged", "Into",
                                 "Edge", "Signal", "Edges", "Injected", "Missed", "Stale",
                                 "Refused");
            out << std::string(80, '=') << "\n";
            for (const PpsBridgeInfo& b : p.bridges) {
                out << printf_string("%-12s %-10s %-6s %-6s %8llu %8llu %6llu %6llu %7llu\n",
                                     b.device.c_str(), b.source.c_str(), b.edge.c_str(),
                                     !b.open    ? "closed"
                                     : b.signal ? "yes"
                                                : "no",
                                     static_cast<unsigned long long>(b.edges),
                                     static_cast<unsigned long long>(b.injected),
                                     static_cast<unsigned long long>(b.missed),
                                     static_cast<unsigned long long>(b.stale),
                                     static_cast<unsigned long long>(b.refused));
                if (!b.last_error.empty()) out << "  " << b.device << ": " << b.last_error << "\n";
            }
        }
    } else {
        out << data.dump(2) << "\n";
    }
    return out.str();
}

}  // namespace nanotime::ctl
