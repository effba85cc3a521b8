// EventLoop::watch_fd / unwatch_fd on every backend: level-triggered
// readability of descriptors the caller owns (pipes here; the generic-netlink
// channel in the daemon).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "loop_test_support.hpp"

namespace nanotime::io::testing {
namespace {

using namespace std::chrono_literals;

// A non-blocking pipe that closes what is still open.
struct Pipe {
    int r = -1;
    int w = -1;
    Pipe() {
        int p[2];
        EXPECT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        r = p[0];
        w = p[1];
    }
    ~Pipe() { close_both(); }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void put(const std::string& s) const {
        ASSERT_EQ(write(w, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    }
    // Reads up to @n bytes; "" when empty (EAGAIN) or at EOF.
    std::string take(size_t n = 4096) const {
        std::string out(n, '\0');
        const ssize_t got = read(r, out.data(), n);
        out.resize(got > 0 ? static_cast<size_t>(got) : 0);
        return out;
    }
    void close_writer() {
        if (w >= 0) close(w);
        w = -1;
    }
    void close_both() {
        if (r >= 0) close(r);
        close_writer();
        r = -1;
    }
};

// Runs @n iterations of at most @each.
void spin(EventLoop& loop, int n, std::chrono::milliseconds each = 10ms) {
    for (int i = 0; i < n; ++i) loop.run_once(each);
}

// Runs the loop for @window and returns how often it woke up: a few times
// when idle (io_uring: moving the timeout to a deadline a few ns earlier ends
// a wait early), thousands when something keeps it spinning.
uint64_t wakeups_during(EventLoop& loop, std::chrono::milliseconds window) {
    const uint64_t before = loop.stats().wakeups;
    const auto end = MonoClock::now() + window;
    for (auto now = MonoClock::now(); now < end; now = MonoClock::now()) loop.run_once(end - now);
    return loop.stats().wakeups - before;
}

using FdWatchTest = LoopTest;

TEST_P(FdWatchTest, ReadablePipeRunsCallbackOnlyWhenReadable) {
    Pipe p;
    std::vector<std::string> got;
    const uint64_t w = loop_->watch_fd(p.r, [&] { got.push_back(p.take()); });
    EXPECT_NE(w, 0u);
    spin(*loop_, 5);
    EXPECT_TRUE(got.empty()) << "called for an empty pipe";

    p.put("hello");
    ASSERT_TRUE(run_until(*loop_, [&] { return !got.empty(); }));
    EXPECT_EQ(got, (std::vector<std::string>{"hello"}));

    spin(*loop_, 5);  // drained: no more calls
    EXPECT_EQ(got.size(), 1u);

    p.put("again");
    ASSERT_TRUE(run_until(*loop_, [&] { return got.size() == 2; }));
    EXPECT_EQ(got[1], "again");
    loop_->unwatch_fd(w);
    loop_->run_once(0ms);
}

// Not draining: the callback runs again on the very next iteration, once per
// iteration, until the data is gone; then the loop sleeps again.
TEST_P(FdWatchTest, LevelTriggeredUntilDrained) {
    Pipe p;
    std::string seen;
    int calls = 0;
    const uint64_t w = loop_->watch_fd(p.r, [&] {
        ++calls;
        seen += p.take(1);  // one byte per call
    });
    p.put("abcd");
    const auto start = MonoClock::now();
    for (int i = 1; i <= 4; ++i) {
        // A long max_wait: an edge-triggered watch would sleep here.
        loop_->run_once(2s);
        EXPECT_EQ(calls, i) << "iteration " << i;
    }
    EXPECT_LT(MonoClock::now() - start, 1500ms) << "the loop waited instead of calling again";
    EXPECT_EQ(seen, "abcd");

    EXPECT_LE(wakeups_during(*loop_, 100ms), 20u) << "the loop spins with nothing to read";
    EXPECT_EQ(calls, 4) << "called after the pipe was drained";
    loop_->unwatch_fd(w);
    loop_->run_once(0ms);
}

TEST_P(FdWatchTest, UnwatchAndCloseFromInsideTheCallback) {
    auto p = std::make_unique<Pipe>();
    int calls = 0;
    uint64_t w = 0;
    w = loop_->watch_fd(p->r, [&] {
        ++calls;
        loop_->unwatch_fd(w);  // data left unread on purpose
        loop_->unwatch_fd(w);  // twice: no-op
        p.reset();             // closes the fd at once, as the API allows
    });
    p->put("xyz");
    ASSERT_TRUE(run_until(*loop_, [&] { return calls > 0; }));
    spin(*loop_, 10);
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(p == nullptr);
}

TEST_P(FdWatchTest, UnwatchUnknownIdsIsHarmless) {
    loop_->unwatch_fd(0);
    loop_->unwatch_fd(987654321);
    Pipe p;
    int calls = 0;
    const uint64_t w = loop_->watch_fd(p.r, [&] {
        ++calls;
        p.take();
    });
    loop_->unwatch_fd(w);
    loop_->unwatch_fd(w);
    p.put("x");
    spin(*loop_, 5);
    EXPECT_EQ(calls, 0);
}

// After unwatch_fd, close and a new pipe on the same descriptor number, only
// the new watch runs: whether the old poll was armed and had even completed
// (a completion waiting in the ring) or had not reached the kernel yet.
TEST_P(FdWatchTest, UnwatchThenCloseThenReuseOfTheNumber) {
    for (const bool armed : {true, false}) {
        SCOPED_TRACE(armed ? "poll armed and completed" : "poll never submitted");
        auto a = std::make_unique<Pipe>();
        const int a_number = a->r;
        int a_calls = 0;
        const uint64_t wa = loop_->watch_fd(a->r, [&] { ++a_calls; });
        if (armed) {
            loop_->run_once(0ms);  // the poll is in the kernel now
            a->put("old");         // and completes: the event is pending
        }
        loop_->unwatch_fd(wa);
        a.reset();  // both ends closed right after unwatch_fd

        Pipe b;
        ASSERT_EQ(b.r, a_number) << "the test needs the number reused";
        std::vector<std::string> b_got;
        const uint64_t wb = loop_->watch_fd(b.r, [&] { b_got.push_back(b.take()); });
        EXPECT_NE(wb, wa);
        b.put("new");
        ASSERT_TRUE(run_until(*loop_, [&] { return !b_got.empty(); }));
        spin(*loop_, 5);
        EXPECT_EQ(a_calls, 0);
        EXPECT_EQ(b_got, (std::vector<std::string>{"new"}));
        loop_->unwatch_fd(wb);
        loop_->run_once(0ms);
    }
}

TEST_P(FdWatchTest, SeveralWatchesEachSeeTheirOwnPipe) {
    constexpr size_t kPipes = 5;
    std::vector<std::unique_ptr<Pipe>> pipes;
    std::vector<std::string> got(kPipes);
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < kPipes; ++i) {
        pipes.push_back(std::make_unique<Pipe>());
        ids.push_back(loop_->watch_fd(pipes[i]->r, [&, i] { got[i] += pipes[i]->take(); }));
    }
    for (size_t i = 0; i < kPipes; ++i) {
        for (size_t j = i + 1; j < kPipes; ++j) EXPECT_NE(ids[i], ids[j]);
    }
    pipes[1]->put("one");
    pipes[3]->put("three");
    ASSERT_TRUE(run_until(*loop_, [&] { return !got[1].empty() && !got[3].empty(); }));
    spin(*loop_, 3);
    EXPECT_EQ(got, (std::vector<std::string>{"", "one", "", "three", ""}));

    // Stop one; the others go on.
    loop_->unwatch_fd(ids[2]);
    for (size_t i = 0; i < kPipes; ++i) pipes[i]->put(std::to_string(i));
    ASSERT_TRUE(run_until(*loop_, [&] {
        return got[0] == "0" && got[1] == "one1" && got[3] == "three3" && got[4] == "4";
    }));
    spin(*loop_, 3);
    EXPECT_EQ(got[2], "");
    EXPECT_EQ(pipes[2]->take(), "2");  // still there: nobody read it
    for (size_t i = 0; i < kPipes; ++i) loop_->unwatch_fd(ids[i]);
    loop_->run_once(0ms);
}

// One callback unwatches another whose event is in the same wake-up.
TEST_P(FdWatchTest, CallbackUnwatchesAnotherReadyWatch) {
    Pipe a;
    Pipe b;
    int a_calls = 0;
    int b_calls = 0;
    uint64_t wa = 0;
    uint64_t wb = 0;
    wa = loop_->watch_fd(a.r, [&] {
        ++a_calls;
        a.take();
        loop_->unwatch_fd(wb);
    });
    wb = loop_->watch_fd(b.r, [&] {
        ++b_calls;
        b.take();
        loop_->unwatch_fd(wa);
    });
    a.put("x");
    b.put("y");
    ASSERT_TRUE(run_until(*loop_, [&] { return a_calls + b_calls > 0; }));
    spin(*loop_, 5);
    ASSERT_EQ(a_calls + b_calls, 1);  // whichever ran first stopped the other
    const bool a_first = a_calls == 1;
    a.put("x");
    b.put("y");
    ASSERT_TRUE(run_until(*loop_, [&] { return a_calls + b_calls == 2; }));
    spin(*loop_, 5);
    EXPECT_EQ(a_calls, a_first ? 2 : 0);  // the survivor runs again, the other never
    EXPECT_EQ(b_calls, a_first ? 0 : 2);
}

// A hang-up is readable (a read returns EOF), like poll(2) says.
TEST_P(FdWatchTest, HangUpCountsAsReadable) {
    Pipe p;
    int calls = 0;
    bool eof = false;
    uint64_t w = 0;
    w = loop_->watch_fd(p.r, [&] {
        ++calls;
        char c;
        if (read(p.r, &c, 1) == 0) {
            eof = true;
            loop_->unwatch_fd(w);
        }
    });
    spin(*loop_, 3);
    EXPECT_EQ(calls, 0);
    p.close_writer();
    ASSERT_TRUE(run_until(*loop_, [&] { return eof; }));
    spin(*loop_, 3);
    EXPECT_EQ(calls, 1);
}

// A descriptor closed without unwatch_fd (a caller bug) is dropped: no
// callback, and the loop still sleeps instead of spinning on it.
TEST_P(FdWatchTest, ClosedDescriptorIsDroppedWithoutSpinning) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    close(p[1]);
    int calls = 0;
    const uint64_t w = loop_->watch_fd(p[0], [&] { ++calls; });
    close(p[0]);  // nothing takes the number before the loop runs
    loop_->run_once(0ms);
    EXPECT_LE(wakeups_during(*loop_, 200ms), 20u) << "the loop spins on a closed descriptor";
    EXPECT_EQ(calls, 0);
    loop_->unwatch_fd(w);
    loop_->run_once(0ms);
    EXPECT_NE(loop_->watch_fd(-1, [&] { ++calls; }), 0u);  // never valid: never called
    loop_->run_once(10ms);
    EXPECT_EQ(calls, 0);
}

// Watches, timers and UDP in one loop: a timer writes to a pipe, the pipe's
// callback sends a datagram, the datagram arrives. And a watch that is never
// drained does not starve timers.
TEST_P(FdWatchTest, WorksAlongsideTimersAndUdp) {
    UdpOptions o;
    o.bind = ntp::SocketAddress::v4_loopback(0);
    std::vector<std::string> received;
    const uint64_t rx = loop_->open_udp(o, [&](const ReceivedDatagram& d) {
        received.emplace_back(d.payload.begin(), d.payload.end());
    });
    const uint64_t tx = loop_->open_udp(o, [](const ReceivedDatagram&) {});
    const ntp::SocketAddress to = *loop_->local_address(rx);

    Pipe p;
    std::vector<std::string> order;
    const uint64_t w = loop_->watch_fd(p.r, [&] {
        const std::string s = p.take();
        order.push_back("pipe:" + s);
        loop_->send_udp(
            tx, to, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    });
    const auto start = MonoClock::now();
    loop_->add_timer_after(30ms, [&] {
        order.push_back("timer");
        p.put("tick");
    });
    ASSERT_TRUE(run_until(*loop_, [&] { return !received.empty(); }));
    EXPECT_GE(MonoClock::now() - start, 30ms);
    EXPECT_EQ(order, (std::vector<std::string>{"timer", "pipe:tick"}));
    EXPECT_EQ(received, (std::vector<std::string>{"tick"}));

    // Undrained data: the watch runs on every iteration, and timers still fire.
    loop_->unwatch_fd(w);
    Pipe busy;
    int busy_calls = 0;
    const uint64_t wb = loop_->watch_fd(busy.r, [&] { ++busy_calls; });
    busy.put("never read");
    bool fired = false;
    const auto armed = MonoClock::now();
    loop_->add_timer_after(40ms, [&] { fired = true; });
    ASSERT_TRUE(run_until(
        *loop_, [&] { return fired; }, 2000ms));
    EXPECT_GE(MonoClock::now() - armed, 40ms);
    EXPECT_GE(busy_calls, 2);
    const int before = busy_calls;
    loop_->unwatch_fd(wb);
    spin(*loop_, 3);
    EXPECT_EQ(busy_calls, before);
    loop_->close_udp(rx);
    loop_->close_udp(tx);
    loop_->run_once(10ms);
}

NANOTIME_ALL_BACKENDS(FdWatchTest);

}  // namespace
}  // namespace nanotime::io::testing
