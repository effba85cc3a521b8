// loop_test_support.hpp - runs every event-loop test against each backend.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "io/event_loop.hpp"
#include "io/sockaddr.hpp"

namespace nanotime::io::testing {

enum class Flavour { Poll, UringMultishot, UringSingleShot };

inline std::string flavour_name(const ::testing::TestParamInfo<Flavour>& info) {
    switch (info.param) {
        case Flavour::Poll:
            return "poll";
        case Flavour::UringMultishot:
            return "io_uring_multishot";
        case Flavour::UringSingleShot:
            return "io_uring_single_shot";
    }
    return "unknown";
}

inline std::unique_ptr<EventLoop> make_loop(Flavour f) {
    LoopOptions o;
    switch (f) {
        case Flavour::Poll:
            o.choice = BackendChoice::Poll;
            break;
        case Flavour::UringMultishot:
            o.choice = BackendChoice::IoUring;
            break;
        case Flavour::UringSingleShot:
            o.choice = BackendChoice::IoUring;
            o.force_single_shot = true;
            break;
    }
    return make_event_loop(o);
}

inline bool uring_usable() {
    std::string why;
    if (!io_uring_available(&why)) return false;
    try {
        make_uring_loop(LoopOptions{});
        return true;
    } catch (...) {
        return false;
    }
}

// Runs the loop until @done or @limit; returns done().
inline bool run_until(EventLoop& loop, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
    const auto end = MonoClock::now() + limit;
    while (!done() && MonoClock::now() < end) loop.run_once(std::chrono::milliseconds(20));
    return done();
}

// sendto(2) from a test's own socket (the loop's peer) to @to.
inline ssize_t send_to(int fd, const void* data, size_t size, const ntp::SocketAddress& to) {
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(to, ss);
    return sendto(fd, data, size, 0, reinterpret_cast<const sockaddr*>(&ss), len);
}

class LoopTest : public ::testing::TestWithParam<Flavour> {
  protected:
    void SetUp() override {
        if (GetParam() != Flavour::Poll && !uring_usable()) GTEST_SKIP() << "io_uring unavailable";
        loop_ = make_loop(GetParam());
    }
    std::unique_ptr<EventLoop> loop_;
};

#define NANOTIME_ALL_BACKENDS(suite)                                                               \
    INSTANTIATE_TEST_SUITE_P(Backends, suite,                                                      \
                             ::testing::Values(::nanotime::io::testing::Flavour::Poll,             \
                                               ::nanotime::io::testing::Flavour::UringMultishot,   \
                                               ::nanotime::io::testing::Flavour::UringSingleShot), \
                             ::nanotime::io::testing::flavour_name)

}  // namespace nanotime::io::testing
