// watch_terminal.hpp - `nanotimectl watch`: the live full-screen view
// (ncurses) of the lines watch_screen.hpp makes, asked for again every
// interval, redrawn when the terminal is resized.
#pragma once

#include <string>

#include "nanotimectl/watch_screen.hpp"

namespace nanotime::ctl {

struct WatchOptions {
    double interval_s = 1;  // between refreshes (kMinWatchInterval_s..kMaxWatchInterval_s)
    std::string where;      // the header's host or member
};

inline constexpr double kMinWatchInterval_s = 0.1;
inline constexpr double kMaxWatchInterval_s = 3600;

// Runs until `q` (returns 0) or SIGINT/SIGTERM/SIGHUP (the terminal
// restored, the signal raised again with its default action). Returns 2
// with a message on stderr when stdin or stdout is not a terminal or the
// terminal type is unknown; nothing is drawn then.
int run_watch(const WatchOptions& options, const ControlSendFn& send);

}  // namespace nanotime::ctl
