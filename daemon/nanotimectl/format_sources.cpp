// format_sources.cpp - ntpdata, selectdata and activity as tables (see
// format_sources.hpp). Labels follow chronyc's so that operators find the
// same lines; signs are ours (offset: server minus local).
#include "nanotimectl/format_sources.hpp"

#include <cstdio>
#include <sstream>

#include "ctl/snapshot_json.hpp"
#include "nanotimectl/format.hpp"

namespace nanotime::ctl {
namespace {

std::string text_or_dash(const std::string& s) {
    return s.empty() ? "-" : s;
}

std::string age_text(double s) {
    if (s < 0) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f s", s);
    return buf;
}

}  // namespace

std::string format_ntpdata(const nlohmann::json& data) {
    const auto list = data.at("ntpdata").get<std::vector<NtpDataInfo>>();
    if (list.empty()) return "No NTP sources.\n";
    std::ostringstream out;
    bool first = true;
    for (const NtpDataInfo& n : list) {
        if (!first) out << "\n";
        first = false;
        out << "Remote address  : " << n.address << " (" << n.name << "), port " << n.port << "\n";
        if (!n.has_exchange) {
            out << "Last exchange   : none yet\n";
        } else {
            out << "Leap status     : " << n.leap << "\n"
                << "Version         : " << n.version << "\n"
                << "Mode            : " << n.mode << "\n"
                << "Stratum         : " << n.stratum << "\n"
                << "Poll interval   : " << n.poll << " (log2 s)\n"
                << "Precision       : " << n.precision << " (log2 s)\n"
                << "Root delay      : " << format_seconds(n.root_delay_s) << "\n"
                << "Root dispersion : " << format_seconds(n.root_dispersion_s) << "\n"
                << "Reference ID    : " << text_or_dash(n.reference_id) << "\n"
                << "Reference time  : " << text_or_dash(n.reference_time) << "\n"
                << "Local transmit  : " << n.local_transmit << " (t1)\n"
                << "Remote receive  : " << text_or_dash(n.remote_receive) << " (t2)\n"
                << "Remote transmit : " << text_or_dash(n.remote_transmit) << " (t3)\n"
                << "Local receive   : " << n.local_receive << " (t4, " << age_text(n.age_s)
                << " ago)\n"
                << "Offset          : " << format_seconds(n.offset_s) << "\n"
                << "Peer delay      : " << format_seconds(n.delay_s) << "\n"
                << "Peer dispersion : " << format_seconds(n.dispersion_s) << "\n"
                << "Response time   : " << format_seconds(n.response_time_s) << "\n"
                << "Interleaved     : " << (n.interleaved ? "yes" : "no") << "\n"
                << "TX timestamping : " << n.tx_timestamp_source << "\n"
                << "RX timestamping : " << n.rx_timestamp_source << "\n";
        }
        out << "Authenticated   : " << (n.authenticated ? "yes (NTS)" : "no") << "\n"
            << "Total TX        : " << n.total_tx << "\n"
            << "Total RX        : " << n.total_rx << "\n"
            << "Total valid RX  : " << n.total_valid_rx << "\n";
    }
    return out.str();
}

std::string format_selectdata(const nlohmann::json& data) {
    const auto list = data.at("selectdata").get<std::vector<SelectDataInfo>>();
    if (list.empty()) return "No sources.\n";
    std::ostringstream out;
    char line[512];
    std::snprintf(line, sizeof line, "S %-27s %-4s %-4s %-6s %-12s %-12s %-12s %s\n",
                  "Name/address", "Opts", "Reach", "Last", "Distance", "Low", "High", "Why");
    out << line << std::string(100, '=') << "\n";
    for (const SelectDataInfo& s : list) {
        std::string opts;
        opts += s.noselect ? 'N' : '-';
        opts += s.prefer ? 'P' : '-';
        const std::string name = s.name == s.address ? s.name : s.name + " (" + s.address + ")";
        std::snprintf(
            line, sizeof line, "%s %-27.27s %-4s %4o %-6s %-12s %-12s %-12s %s\n",
            s.state_code.c_str(), name.c_str(), opts.c_str(), s.reach,
            age_text(s.last_sample_ago_s).c_str(), format_seconds(s.root_distance_s).c_str(),
            format_seconds(s.interval_low_s).c_str(), format_seconds(s.interval_high_s).c_str(),
            s.reason.empty() ? s.state.c_str() : s.reason.c_str());
        out << line;
    }
    return out.str();
}

std::string format_activity(const nlohmann::json& data) {
    const ActivityInfo a = data.get<ActivityInfo>();
    std::ostringstream out;
    out << a.online << " sources online\n"
        << a.offline << " sources offline\n"
        << a.burst_online << " sources doing burst (return to online)\n"
        << a.burst_offline << " sources doing burst (return to offline)\n"
        << a.unresolved << " sources with unknown address\n";
    return out.str();
}

}  // namespace nanotime::ctl
