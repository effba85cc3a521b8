// The resolver thread: answers come back on the loop's thread, in order,
// without blocking the loop; numeric addresses skip DNS.
#include <gtest/gtest.h>
#include <net/if.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "io/syscalls.hpp"
#include "nanotimed/resolver.hpp"

namespace nanotime::daemon {
namespace {

using namespace std::chrono_literals;

Resolution fake_lookup(const std::string& host) {
    std::this_thread::sleep_for(50ms);  // a slow DNS server
    Resolution r;
    if (host == "ntp.example") {
        r.addresses = {*ntp::IpAddress::parse("192.0.2.7"), *ntp::IpAddress::parse("2001:db8::7")};
    } else {
        r.error = "Name or service not known";
    }
    return r;
}

TEST(Resolver, AnswersOnTheLoopThreadWithoutBlockingIt) {
    auto loop = io::make_poll_loop(io::LoopOptions{});
    std::vector<Resolution> got;
    const auto loop_thread = std::this_thread::get_id();
    Resolver r(
        *loop,
        [&](const Resolution& res) {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread);
            got.push_back(res);
        },
        fake_lookup);
    r.resolve(1, "ntp.example");
    r.resolve(2, "nope.example");
    EXPECT_TRUE(got.empty());  // never from inside resolve()
    // The loop keeps running (timers fire) while the lookups take their time.
    int ticks = 0;
    loop->add_timer_after(1ms, [&] { ++ticks; });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.size() < 2 && std::chrono::steady_clock::now() < deadline) loop->run_once(20ms);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(ticks, 1);
    EXPECT_EQ(got[0].tag, 1u);
    EXPECT_EQ(got[0].host, "ntp.example");
    ASSERT_EQ(got[0].addresses.size(), 2u);
    EXPECT_EQ(got[0].addresses[0].to_string(), "192.0.2.7");
    EXPECT_EQ(got[1].tag, 2u);
    EXPECT_TRUE(got[1].addresses.empty());
    EXPECT_EQ(got[1].error, "Name or service not known");
    EXPECT_EQ(r.pending(), 0u);
}

TEST(Resolver, NumericAddressesNeedNoThread) {
    auto loop = io::make_poll_loop(io::LoopOptions{});
    std::vector<Resolution> got;
    Resolver r(
        *loop, [&](const Resolution& res) { got.push_back(res); }, fake_lookup);
    r.resolve(7, "2001:db8::1");
    EXPECT_TRUE(got.empty());
    loop->run_once(0ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].tag, 7u);
    EXPECT_EQ(got[0].addresses[0], *ntp::IpAddress::parse("2001:db8::1"));
    EXPECT_FALSE(r.started());
}

TEST(Resolver, DestroyedWithALookupInFlight) {
    auto loop = io::make_poll_loop(io::LoopOptions{});
    std::atomic<int> calls = 0;
    {
        Resolver r(
            *loop, [&](const Resolution&) { ++calls; }, fake_lookup);
        r.resolve(1, "ntp.example");
        r.resolve(2, "ntp.example");
        std::this_thread::sleep_for(10ms);
    }  // joins the worker; queued work is dropped, nothing is delivered later
    loop->run_once(100ms);
    EXPECT_EQ(calls, 0);
}

size_t open_descriptors() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

TEST(Resolver, NumericAddressesOpenNoDescriptor) {
    auto loop = io::make_poll_loop(io::LoopOptions{});
    const size_t before = open_descriptors();
    std::vector<Resolution> got;
    {
        Resolver r(
            *loop, [&](const Resolution& res) { got.push_back(res); }, fake_lookup);
        r.resolve(1, "192.0.2.1");
        loop->run_once(0ms);
        ASSERT_EQ(got.size(), 1u);
        // No socket pair, no thread: nothing for the loop to wait on.
        EXPECT_EQ(open_descriptors(), before);
        EXPECT_FALSE(r.started());
        EXPECT_FALSE(r.looks_up_inline());
    }
    EXPECT_EQ(open_descriptors(), before);
}

TEST(Resolver, AHostNameMakesThePairAndTheThread) {
    auto loop = io::make_poll_loop(io::LoopOptions{});
    const size_t before = open_descriptors();
    std::vector<Resolution> got;
    Resolver r(
        *loop, [&](const Resolution& res) { got.push_back(res); }, fake_lookup);
    EXPECT_EQ(open_descriptors(), before);
    r.resolve(1, "ntp.example");
    EXPECT_TRUE(r.started());
    EXPECT_EQ(open_descriptors(), before + 2);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.empty() && std::chrono::steady_clock::now() < deadline) loop->run_once(20ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].addresses.size(), 2u);
}

TEST(Resolver, WithoutASocketPairNamesAreLookedUpOnTheLoopThread) {
    io::Syscalls sys = io::Syscalls::system();
    sys.socketpair = [](int, int, int, int*) {
        errno = EMFILE;
        return -1;
    };
    io::LoopOptions o;
    o.syscalls = &sys;
    auto loop = io::make_poll_loop(o);
    std::vector<Resolution> got;
    const auto loop_thread = std::this_thread::get_id();
    Resolver r(
        *loop,
        [&](const Resolution& res) {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread);
            got.push_back(res);
        },
        fake_lookup);
    r.resolve(3, "ntp.example");
    EXPECT_TRUE(got.empty());  // still never from inside resolve()
    EXPECT_TRUE(r.looks_up_inline());
    EXPECT_FALSE(r.started());
    EXPECT_EQ(r.pending(), 1u);
    loop->run_once(0ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].tag, 3u);
    EXPECT_EQ(got[0].addresses.size(), 2u);
    EXPECT_EQ(r.pending(), 0u);
    bool noted = false;
    for (const std::string& f : loop->fallbacks()) noted |= f.find("resolver") != std::string::npos;
    EXPECT_TRUE(noted);
}

TEST(Resolver, AnswersNotYetDeliveredAreDroppedWithTheResolver) {
    auto loop = io::make_poll_loop(io::LoopOptions{});
    int calls = 0;
    {
        Resolver r(
            *loop, [&](const Resolution&) { ++calls; }, fake_lookup);
        r.resolve(1, "192.0.2.1");
    }
    loop->run_once(0ms);  // the answer's timer was cancelled: no call into a dead object
    EXPECT_EQ(calls, 0);
}

TEST(Resolver, RealLookupOfLocalhost) {
    const Resolution r = lookup_host("localhost");
    ASSERT_FALSE(r.addresses.empty()) << r.error;
    const Resolution bad = lookup_host("nanotime-does-not-exist.invalid");
    EXPECT_TRUE(bad.addresses.empty());
    EXPECT_FALSE(bad.error.empty());
}

// A scoped link-local literal keeps its zone (before, the interface was
// dropped and the server could not be reached).
TEST(Resolver, ScopedLiteralKeepsItsZone) {
    const Resolution r = lookup_host("fe80::1%lo");
    ASSERT_EQ(r.addresses.size(), 1u) << r.error;
    EXPECT_EQ(r.addresses[0], *ntp::IpAddress::parse("fe80::1"));
    EXPECT_EQ(r.scope_id, if_nametoindex("lo"));
    EXPECT_EQ(lookup_host("localhost").scope_id, 0u);
}

}  // namespace
}  // namespace nanotime::daemon
