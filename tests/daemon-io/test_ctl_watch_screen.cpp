// nanotimectl watch's screen (watch_screen.hpp): the views asked for
// through a scripted daemon, the header, tracking and sources as
// `nanotimectl tracking` / `sources` print them, the not-answering screen,
// and the lines fitted to a terminal's size.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ctl/snapshot_json.hpp"
#include "nanotimectl/format.hpp"
#include "nanotimectl/watch_screen.hpp"

namespace nanotime::ctl {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1796682601;  // 2026-12-07 22:30:01 UTC

// The "data" members of a daemon's status, tracking and sources replies.
std::map<std::string, json> view_data(bool synchronised) {
    StatusInfo status;
    status.version = "1.2.3";
    status.synchronized = synchronised;
    status.stratum = synchronised ? 2 : 16;
    status.reference_id = synchronised ? "192.0.2.1" : "-";
    TrackingInfo tracking;
    tracking.reference_id = status.reference_id;
    tracking.stratum = status.stratum;
    tracking.system_offset_s = -12.5e-6;
    tracking.frequency_ppm = 3.25;
    SourceInfo a;
    a.name = a.address = "192.0.2.1";
    a.kind = "server";
    a.state = "selected";
    a.reach = 0377;
    SourceInfo b = a;
    b.name = b.address = "192.0.2.2";
    b.state = "unreachable";
    b.reach = 0;
    return {{"status", json(status)},
            {"tracking", json(tracking)},
            {"sources", {{"sources", std::vector<SourceInfo>{a, b}}}}};
}

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// @block's lines, in order and next to each other, somewhere in @lines.
bool contains_block(const std::vector<std::string>& lines, const std::vector<std::string>& block) {
    return std::search(lines.begin(), lines.end(), block.begin(), block.end()) != lines.end();
}

// A daemon answering from a table: command -> reply text; absent: no answer.
struct ScriptedDaemon {
    std::map<std::string, std::string> replies;
    std::vector<std::string> asked;
    std::optional<std::string> operator()(const std::string& request, std::string* why) {
        const std::string command = json::parse(request).at("command");
        asked.push_back(command);
        const auto it = replies.find(command);
        if (it == replies.end()) {
            *why = "cannot connect to ctl.sock: Connection refused";
            return std::nullopt;
        }
        return it->second;
    }
};

// A daemon answering every view with @data.
ScriptedDaemon answering(const std::map<std::string, json>& data) {
    ScriptedDaemon daemon;
    for (const auto& [command, d] : data)
        daemon.replies[command] = json{{"ok", true}, {"data", d}}.dump();
    return daemon;
}

WatchViews fetched(const std::map<std::string, json>& data) {
    ScriptedDaemon daemon = answering(data);
    std::string why;
    std::optional<WatchViews> views = fetch_watch_views(std::ref(daemon), &why);
    EXPECT_TRUE(views) << why;
    return views.value_or(WatchViews{});
}

TEST(WatchScreen, HeaderThenTrackingAndSourcesAsTheirCommandsPrintThem) {
    const std::map<std::string, json> data = view_data(true);
    const std::vector<std::string> lines = watch_lines({"ntp1", 1, kNow}, fetched(data));
    ASSERT_GE(lines.size(), 3u);
    EXPECT_EQ(lines[0], "ntp1  2026-12-07 22:30:01 UTC  every 1 s  (q: quit, r: refresh now)");
    EXPECT_EQ(lines[1], "nanotimed 1.2.3  synchronised to 192.0.2.1, stratum 2");
    EXPECT_EQ(lines[2], "");
    const std::vector<std::string> tracking = split(format_human("tracking", data.at("tracking")));
    const std::vector<std::string> sources = split(format_human("sources", data.at("sources")));
    EXPECT_TRUE(contains_block(lines, tracking));
    EXPECT_TRUE(contains_block(lines, sources));
    EXPECT_EQ(lines.size(), 3 + tracking.size() + 1 + sources.size());
    auto row = [&lines](const std::string& start) {
        return std::any_of(lines.begin(), lines.end(),
                           [&start](const std::string& l) { return l.starts_with(start); });
    };
    EXPECT_TRUE(row("* 192.0.2.1 "));
    EXPECT_TRUE(row("? 192.0.2.2 "));
}

TEST(WatchScreen, HeaderSaysNotSynchronisedAndALeap) {
    std::map<std::string, json> data = view_data(false);
    data["status"]["leap"] = "insert";
    const std::vector<std::string> lines = watch_lines({"ntp1", 0.5, kNow}, fetched(data));
    EXPECT_EQ(lines[0], "ntp1  2026-12-07 22:30:01 UTC  every 0.5 s  (q: quit, r: refresh now)");
    EXPECT_EQ(lines[1], "nanotimed 1.2.3  not synchronised, leap insert");
}

TEST(WatchScreen, AViewThisNanotimectlDoesNotKnowIsAnUnexpectedResponse) {
    std::map<std::string, json> data = view_data(true);
    data["sources"] = json::object();  // no "sources" list
    ScriptedDaemon daemon = answering(data);
    std::string why;
    EXPECT_FALSE(fetch_watch_views(std::ref(daemon), &why));
    EXPECT_TRUE(why.starts_with("unexpected response: ")) << why;
}

TEST(WatchScreen, NotAnsweringSaysWhyWrappedAndWhenItLastAnswered) {
    const std::string reason = "cannot connect to /run/nanotime/nanotimed.sock: Connection refused";
    std::vector<std::string> lines = watch_lines_not_answering({"ntp1", 1, kNow}, reason, 0, 200);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[1], "daemon not answering: " + reason);
    EXPECT_EQ(lines[3], "Retrying every 1 s; last answer: none since watch started");
    // 40 columns: the whole reason on lines of 40, its end included.
    lines = watch_lines_not_answering({"ntp1", 1, kNow}, reason, kNow - 2, 40);
    std::string said;
    for (size_t i = 1; i + 1 < lines.size(); ++i) {
        EXPECT_LE(lines[i].size(), 40u);
        said += lines[i];
    }
    EXPECT_EQ(said, "daemon not answering: " + reason);
    EXPECT_EQ(lines.back(), "Retrying every 1 s; last answer: 2026-12-07 22:29:59 UTC");
}

TEST(WatchScreen, FetchAsksStatusTrackingSourcesAndSaysWhyOneFailed) {
    const std::map<std::string, json> data = view_data(true);
    ScriptedDaemon daemon = answering(data);
    std::string why;
    const std::optional<WatchViews> got = fetch_watch_views(std::ref(daemon), &why);
    ASSERT_TRUE(got) << why;
    EXPECT_EQ(daemon.asked, (std::vector<std::string>{"status", "tracking", "sources"}));
    EXPECT_EQ(got->status.version, "1.2.3");
    EXPECT_EQ(got->tracking, format_human("tracking", data.at("tracking")));
    EXPECT_EQ(got->sources, format_human("sources", data.at("sources")));

    ScriptedDaemon refusing = daemon;
    refusing.replies["tracking"] = R"({"ok":false,"error":"busy"})";
    EXPECT_FALSE(fetch_watch_views(std::ref(refusing), &why));
    EXPECT_EQ(why, "the daemon refused tracking: busy");

    ScriptedDaemon garbled = daemon;
    garbled.replies["sources"] = "not json";
    EXPECT_FALSE(fetch_watch_views(std::ref(garbled), &why));
    EXPECT_EQ(why, "the daemon sent something that is not JSON");

    ScriptedDaemon gone;
    EXPECT_FALSE(fetch_watch_views(std::ref(gone), &why));
    EXPECT_EQ(why, "cannot connect to ctl.sock: Connection refused");
    EXPECT_EQ(gone.asked.size(), 1u);  // no more requests once one failed
}

TEST(WatchScreen, FitCutsLinesAndCountsTheRowsThatDoNotFit) {
    const std::vector<std::string> lines = {"0123456789", "abc", "", "last"};
    EXPECT_EQ(fit_to_screen(lines, 10, 80), lines);
    EXPECT_EQ(fit_to_screen(lines, 4, 5), (std::vector<std::string>{"01234", "abc", "", "last"}));
    EXPECT_EQ(
        fit_to_screen(lines, 3, 80),
        (std::vector<std::string>{"0123456789", "abc", "(2 more lines: enlarge the terminal)"}));
    EXPECT_EQ(fit_to_screen(lines, 1, 8), (std::vector<std::string>{"(4 more "}));
    EXPECT_TRUE(fit_to_screen(lines, 0, 80).empty());
    EXPECT_TRUE(fit_to_screen(lines, 5, 0).empty());
}

}  // namespace
}  // namespace nanotime::ctl
