// watch_screen.hpp - what `nanotimectl watch` shows, as lines of text: a
// header (where, time, daemon version, synchronisation), then the tracking
// and sources views exactly as `nanotimectl tracking` and `sources` print
// them (format_human), or the line saying the daemon does not answer.
// No terminal I/O here: watch_terminal.cpp feeds in the daemon's replies
// and the clock, and draws fit_to_screen()'s lines.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ctl/snapshot.hpp"

namespace nanotime::ctl {

// One control request (JSON text) to the daemon, as main.cpp sends every
// view: the reply's JSON text, or nullopt with @why set.
using ControlSendFn =
    std::function<std::optional<std::string>(const std::string& request, std::string* why)>;

struct WatchHeader {
    std::string where;       // the host name, or "member NAME via URL"
    double interval_s = 1;   // between refreshes
    int64_t now_unix_s = 0;  // when the views were asked for
};

// The daemon's answer: its status, and the tracking and sources views as
// `nanotimectl tracking` and `sources` print them (format_human).
struct WatchViews {
    StatusInfo status;
    std::string tracking;
    std::string sources;
};

// Asks for the status, tracking and sources views through @send. nullopt
// with @why ("cannot connect to ...", the daemon's refusal, a reply that is
// not JSON or not a view this nanotimectl knows) when any of them fails.
std::optional<WatchViews> fetch_watch_views(const ControlSendFn& send, std::string* why);

std::vector<std::string> watch_lines(const WatchHeader& header, const WatchViews& views);

// The screen when the daemon did not answer: "daemon not answering:
// @reason" (wrapped at @cols: its end, the errno text, matters most) and
// when it last did (@last_answer_unix_s, 0: never).
std::vector<std::string> watch_lines_not_answering(const WatchHeader& header,
                                                   const std::string& reason,
                                                   int64_t last_answer_unix_s, int cols);

// At most @rows lines of at most @cols characters: longer lines are cut,
// and when the lines do not all fit the last row says how many are hidden.
std::vector<std::string> fit_to_screen(const std::vector<std::string>& lines, int rows, int cols);

}  // namespace nanotime::ctl
