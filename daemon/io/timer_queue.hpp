// timer_queue.hpp - the event loop's timers: callbacks due at deadlines on
// CLOCK_MONOTONIC, fired in deadline order (equal deadlines in the order
// they were added). No system calls: the caller says what time it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <vector>

namespace nanotime::io {

using MonoClock = std::chrono::steady_clock;  // CLOCK_MONOTONIC

class TimerQueue {
  public:
    using Fn = std::function<void()>;

    // Returns the timer's id (never 0).
    uint64_t add(MonoClock::time_point deadline, Fn fn);
    // False when @id is not pending (fired, cancelled, or never added).
    bool cancel(uint64_t id);
    // The earliest deadline still in the heap. Cancelled timers stay there
    // until they reach the top; they only cost an early wake-up, which
    // fire_due() absorbs.
    std::optional<MonoClock::time_point> next_deadline() const;
    // Runs every timer due at @now, in order. A callback may add or cancel
    // timers; one added already due runs in this call too.
    void fire_due(MonoClock::time_point now);
    size_t pending() const { return live_.size(); }

  private:
    struct Entry {
        MonoClock::time_point deadline;
        uint64_t id;  // ids grow, so (deadline, id) orders equal deadlines FIFO
        bool operator>(const Entry& o) const {
            return deadline != o.deadline ? deadline > o.deadline : id > o.id;
        }
    };
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
    std::map<uint64_t, Fn> live_;  // pending timers; cancelled ones are absent
    uint64_t next_id_ = 1;
};

}  // namespace nanotime::io
