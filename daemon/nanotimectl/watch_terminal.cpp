// watch_terminal.cpp - the ncurses loop of `nanotimectl watch` (see
// watch_terminal.hpp): ask, draw, wait for a key or the next refresh.
#include "nanotimectl/watch_terminal.hpp"

#include <curses.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace nanotime::ctl {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signal_number) {
    g_stop_signal = signal_number;
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Our handlers for the stop signals while the screen is ours, installed
// before ncurses starts (it then leaves them alone) and without SA_RESTART,
// so that a signal ends the wait for a key at once. The old ones come back
// on destruction.
class StopSignals {
  public:
    StopSignals() {
        struct sigaction action {};
        action.sa_handler = on_stop_signal;
        sigemptyset(&action.sa_mask);
        for (size_t i = 0; i < std::size(kStopSignals); ++i)
            sigaction(kStopSignals[i], &action, &saved_[i]);
    }
    ~StopSignals() {
        for (size_t i = 0; i < std::size(kStopSignals); ++i)
            sigaction(kStopSignals[i], &saved_[i], nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

  private:
    struct sigaction saved_[std::size(kStopSignals)]{};
};

// The terminal in curses mode (alternate screen, no echo, keys one at a
// time, cursor hidden) for this object's life; endwin() restores it.
class CursesScreen {
  public:
    CursesScreen() : screen_(newterm(nullptr, stdout, stdin)) {
        if (screen_ == nullptr) {
            const char* term = std::getenv("TERM");
            throw std::runtime_error(std::string("watch: cannot use the terminal type '") +
                                     (term != nullptr ? term : "") + "'");
        }
        cbreak();
        noecho();
        keypad(stdscr, TRUE);
        curs_set(0);
    }
    ~CursesScreen() {
        endwin();
        delscreen(screen_);
    }
    CursesScreen(const CursesScreen&) = delete;
    CursesScreen& operator=(const CursesScreen&) = delete;

    // The screen from @compose (given the terminal's width), fitted to the
    // terminal's size now.
    static void draw(const std::function<std::vector<std::string>(int cols)>& compose) {
        int rows = 0;
        int cols = 0;
        getmaxyx(stdscr, rows, cols);
        erase();
        const std::vector<std::string> fitted = fit_to_screen(compose(cols), rows, cols);
        for (size_t row = 0; row < fitted.size(); ++row)
            mvaddnstr(static_cast<int>(row), 0, fitted[row].c_str(), cols);
        refresh();
    }

  private:
    SCREEN* screen_;
};

// The daemon's last answer, or why there was none, as the screen shows it.
class WatchState {
  public:
    explicit WatchState(const WatchOptions& options) : options_(options) {}

    void ask(const ControlSendFn& send) {
        header_ = {options_.where, options_.interval_s, static_cast<int64_t>(std::time(nullptr))};
        lines_.clear();
        why_.clear();
        if (std::optional<WatchViews> views = fetch_watch_views(send, &why_)) {
            lines_ = watch_lines(header_, *views);
            last_answer_unix_s_ = header_.now_unix_s;
        }
    }

    std::vector<std::string> lines(int cols) const {
        if (why_.empty()) return lines_;
        return watch_lines_not_answering(header_, why_, last_answer_unix_s_, cols);
    }

  private:
    const WatchOptions& options_;
    WatchHeader header_;
    std::vector<std::string> lines_;
    std::string why_;  // empty: lines_ holds the answer
    int64_t last_answer_unix_s_ = 0;
};

}  // namespace

int run_watch(const WatchOptions& options, const ControlSendFn& send) {
    if (isatty(STDOUT_FILENO) == 0 || isatty(STDIN_FILENO) == 0) {
        std::cerr << "nanotimectl: watch needs a terminal (stdin and stdout); for a script, "
                     "ask tracking and sources (--json) in a loop\n";
        return 2;
    }
    using Clock = std::chrono::steady_clock;
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.interval_s));
    g_stop_signal = 0;
    {
        const StopSignals stop_signals;
        const CursesScreen screen;
        WatchState state(options);
        const auto compose = [&state](int cols) { return state.lines(cols); };
        Clock::time_point next = Clock::now();
        while (g_stop_signal == 0) {
            if (Clock::now() >= next) {
                const Clock::time_point asked = Clock::now();
                state.ask(send);
                CursesScreen::draw(compose);
                next = asked + interval;
            }
            const auto wait =
                std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
            timeout(static_cast<int>(std::max<int64_t>(wait.count(), 0)));
            const int key = getch();
            if (key == 'q' || key == 'Q') break;
            if (key == 'r' || key == 'R') next = Clock::now();
            if (key == KEY_RESIZE) CursesScreen::draw(compose);
        }
    }
    // A stop signal: its own action now that the terminal is back (the
    // default one ends the process; an inherited SIG_IGN leaves 128 + n).
    const int stop_signal = g_stop_signal;
    if (stop_signal == 0) return 0;
    (void)std::raise(stop_signal);  // its failure leaves the return below
    return 128 + stop_signal;
}

}  // namespace nanotime::ctl
