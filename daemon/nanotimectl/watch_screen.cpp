// watch_screen.cpp - the lines of `nanotimectl watch` (see watch_screen.hpp).
#include "nanotimectl/watch_screen.hpp"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ctl/snapshot_json.hpp"
#include "nanotimectl/format.hpp"

namespace nanotime::ctl {
namespace {

// "2026-12-07 22:30:01 UTC"
std::string utc_text(int64_t unix_s, const char* format = "%Y-%m-%d %H:%M:%S UTC") {
    const auto t = static_cast<std::time_t>(unix_s);
    std::tm tm{};
    char text[40] = "-";
    if (gmtime_r(&t, &tm) == nullptr || std::strftime(text, sizeof text, format, &tm) == 0)
        return "-";
    return text;
}

std::string interval_text(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", s);
    return text;
}

void append_text(std::vector<std::string>& lines, const std::string& text) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
}

// Two lines, the most wanted first, so that a narrow terminal cuts the
// least wanted: where and when, then the daemon and its synchronisation.
std::vector<std::string> header_lines(const WatchHeader& header, const std::string& daemon) {
    return {header.where + "  " + utc_text(header.now_unix_s) + "  every " +
                interval_text(header.interval_s) + "  (q: quit, r: refresh now)",
            daemon, ""};
}

}  // namespace

std::optional<WatchViews> fetch_watch_views(const ControlSendFn& send, std::string* why) {
    nlohmann::json data[3];
    const char* const commands[3] = {"status", "tracking", "sources"};
    for (size_t i = 0; i < 3; ++i) {
        const auto reply = send(nlohmann::json{{"command", commands[i]}}.dump(), why);
        if (!reply) return std::nullopt;
        const nlohmann::json r = nlohmann::json::parse(*reply, nullptr, false);
        if (r.is_discarded() || !r.is_object()) {
            *why = "the daemon sent something that is not JSON";
            return std::nullopt;
        }
        if (!r.value("ok", false) || !r.contains("data")) {
            *why = std::string("the daemon refused ") + commands[i] + ": " +
                   r.value("error", std::string("request failed"));
            return std::nullopt;
        }
        data[i] = r["data"];
    }
    try {
        return WatchViews{data[0].get<StatusInfo>(), format_human("tracking", data[1]),
                          format_human("sources", data[2])};
    } catch (const nlohmann::json::exception& e) {
        *why = std::string("unexpected response: ") + e.what();
        return std::nullopt;
    }
}

std::vector<std::string> watch_lines(const WatchHeader& header, const WatchViews& views) {
    const StatusInfo& s = views.status;
    std::string daemon = "nanotimed " + s.version + "  ";
    if (s.synchronized) {
        daemon += "synchronised to " + s.reference_id + ", stratum " + std::to_string(s.stratum);
    } else {
        daemon += "not synchronised";
    }
    if (s.leap != "none") daemon += ", leap " + s.leap;
    std::vector<std::string> lines = header_lines(header, daemon);
    append_text(lines, views.tracking);
    lines.emplace_back();
    append_text(lines, views.sources);
    return lines;
}

std::vector<std::string> watch_lines_not_answering(const WatchHeader& header,
                                                   const std::string& reason,
                                                   int64_t last_answer_unix_s, int cols) {
    const std::string said = "daemon not answering: " + reason;
    const size_t width = cols > 0 ? static_cast<size_t>(cols) : said.size();
    std::vector<std::string> lines = header_lines(header, said.substr(0, width));
    for (size_t at = width; at < said.size(); at += width) lines.push_back(said.substr(at, width));
    lines.push_back("Retrying every " + interval_text(header.interval_s) + "; last answer: " +
                    (last_answer_unix_s == 0 ? std::string("none since watch started")
                                             : utc_text(last_answer_unix_s)));
    return lines;
}

std::vector<std::string> fit_to_screen(const std::vector<std::string>& lines, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return {};
    const auto width = static_cast<size_t>(cols);
    std::vector<std::string> out;
    for (const std::string& line : lines) {
        if (out.size() + 1 == static_cast<size_t>(rows) && lines.size() > out.size() + 1) {
            out.push_back("(" + std::to_string(lines.size() - out.size()) +
                          " more lines: enlarge the terminal)");
            out.back().resize(std::min(out.back().size(), width));
            break;
        }
        out.push_back(line.substr(0, width));
    }
    return out;
}

}  // namespace nanotime::ctl
