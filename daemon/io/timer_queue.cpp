// timer_queue.cpp - the event loop's timer heap (see timer_queue.hpp).
#include "io/timer_queue.hpp"

#include <utility>

namespace nanotime::io {

uint64_t TimerQueue::add(MonoClock::time_point deadline, Fn fn) {
    const uint64_t id = next_id_++;
    live_.emplace(id, std::move(fn));
    heap_.push(Entry{deadline, id});
    return id;
}

bool TimerQueue::cancel(uint64_t id) {
    return live_.erase(id) > 0;
}

std::optional<MonoClock::time_point> TimerQueue::next_deadline() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().deadline;
}

void TimerQueue::fire_due(MonoClock::time_point now) {
    while (!heap_.empty() && heap_.top().deadline <= now) {
        const Entry e = heap_.top();
        heap_.pop();
        auto it = live_.find(e.id);
        if (it == live_.end()) continue;
        Fn fn = std::move(it->second);
        live_.erase(it);
        fn();
    }
    // Drop cancelled timers from the top so the next wake-up is a real one.
    while (!heap_.empty() && live_.find(heap_.top().id) == live_.end()) heap_.pop();
}

}  // namespace nanotime::io
