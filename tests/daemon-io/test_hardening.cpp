// Privilege drop and the seccomp allow-list, each in a forked child.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/clock.hpp"
#include "loop_test_support.hpp"
#include "nanotimed/hardening.hpp"
#include "nanotimed/resolver.hpp"
#include "util/digest.hpp"
#include "util/openssl_init.hpp"
#include "util/siphash.hpp"

namespace nanotime::daemon {
namespace {

// Runs @body in a child; returns its wait status.
template <typename F>
int in_child(F body) {
    const pid_t pid = fork();
    if (pid == 0) {
        int rc = 1;
        try {
            rc = body() ? 0 : 1;
        } catch (...) {
            rc = 2;
        }
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

bool has_effective(cap_value_t c) {
    cap_t caps = cap_get_proc();
    cap_flag_value_t v = CAP_CLEAR;
    cap_get_flag(caps, c, CAP_EFFECTIVE, &v);
    cap_free(caps);
    return v == CAP_SET;
}

TEST(Hardening, RootDropsToUserKeepingOnlyClockCapabilities) {
    if (geteuid() != 0 || getpwnam("nobody") == nullptr)
        GTEST_SKIP() << "needs root and user nobody";
    if (!has_effective(CAP_SYS_TIME)) GTEST_SKIP() << "no CAP_SYS_TIME to keep";
    const int status = in_child([] {
        const PrivilegeResult r = drop_privileges("nobody", true);
        return r.changed_user && getuid() == getpwnam("nobody")->pw_uid && geteuid() != 0 &&
               has_effective(CAP_SYS_TIME) && has_effective(CAP_NET_BIND_SERVICE) &&
               !has_effective(CAP_SYS_ADMIN) && !has_effective(CAP_SETUID) &&
               !has_effective(CAP_DAC_OVERRIDE);
    });
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Hardening, WithoutNetBindOnlySysTime) {
    if (geteuid() != 0 || !has_effective(CAP_SYS_TIME)) GTEST_SKIP() << "needs root";
    const int status = in_child([] {
        drop_privileges("", false);
        return has_effective(CAP_SYS_TIME) && !has_effective(CAP_NET_BIND_SERVICE) &&
               !has_effective(CAP_NET_ADMIN);
    });
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Hardening, UnknownUserIsAnError) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    const int status = in_child([] {
        try {
            drop_privileges("no-such-user-nanotime", false);
        } catch (const std::runtime_error&) {
            return true;
        }
        return false;
    });
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

using SeccompTest = io::testing::LoopTest;

// Everything the daemon does after start-up, under the enforcing filter:
// loop creation happens before (as in nanotimed), the rest after.
TEST_P(SeccompTest, LoopWorkUnderTheAllowList) {
    if (kSanitized) GTEST_SKIP() << "the sanitizer runtime makes its own system calls";
    const int status = in_child([this] {
        // The child's own loop: an io_uring ring made SINGLE_ISSUER serves
        // only the process that made it (nanotimed never forks).
        loop_ = io::testing::make_loop(GetParam());
        int got = 0, stamps = 0, fired = 0, signals = 0, readable = 0;
        loop_->watch_signals({SIGUSR1}, [&](const signalfd_siginfo&) { ++signals; });
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return false;
        install_seccomp(SeccompAction::Kill);
        const uint64_t w = loop_->watch_fd(p[0], [&] {
            char c;
            if (read(p[0], &c, 1) == 1) ++readable;
        });
        if (write(p[1], "x", 1) != 1) return false;
        io::UdpOptions o;
        o.bind = ntp::SocketAddress::v4_loopback(0);
        o.tx_timestamps = true;
        const uint64_t a = loop_->open_udp(
            o, [&](const io::ReceivedDatagram&) { ++got; },
            [&](const io::TxTimestamp&) { ++stamps; });
        const uint64_t b = loop_->open_udp(o, [&](const io::ReceivedDatagram&) { ++got; });
        const uint8_t msg[48] = {0x23};
        loop_->send_udp(b, *loop_->local_address(a), msg);
        loop_->send_udp(a, *loop_->local_address(b), msg);
        loop_->add_timer_after(std::chrono::milliseconds(1), [&] { ++fired; });
        raise(SIGUSR1);
        io::SystemClock clock;
        timex tx{};
        clock.read(tx);
        const auto all = [&] {
            return got == 2 && stamps == 1 && fired == 1 && signals == 1 && readable == 1;
        };
        io::testing::run_until(*loop_, all);
        loop_->close_udp(a);
        loop_->close_udp(b);
        loop_->unwatch_fd(w);
        close(p[0]);
        close(p[1]);
        loop_->run_once(std::chrono::milliseconds(5));
        return all();
    });
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

NANOTIME_ALL_BACKENDS(SeccompTest);

// The resolver makes its socket pair and thread with the first host name,
// which may come after the filter (a reload): the filter allows both.
TEST(Seccomp, ResolverStartsUnderTheFilter) {
    if (kSanitized) GTEST_SKIP() << "the sanitizer runtime makes its own system calls";
    const int status = in_child([] {
        auto loop = io::make_poll_loop(io::LoopOptions{});
        loop->watch_signals({SIGUSR1}, [](const signalfd_siginfo&) {});
        install_seccomp(SeccompAction::Kill);
        std::vector<Resolution> got;
        Resolver r(
            *loop, [&](const Resolution& res) { got.push_back(res); },
            [](const std::string& host) {
                Resolution res;
                res.host = host;
                res.addresses = {*ntp::IpAddress::parse("192.0.2.9")};
                return res;
            });
        r.resolve(1, "ntp.example");
        io::testing::run_until(*loop, [&] { return !got.empty(); });
        return r.started() && got.size() == 1 && got[0].addresses.size() == 1;
    });
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// OpenSSL is set up lazily (util/digest.cpp, util/siphash.cpp): the first
// digest and the first rate limiter's SipHash may come after the filter (an
// IPv6 refid, a leap file reloaded, a server started later). Each works
// under it, as nanotimed starts OpenSSL (first thing in main).
TEST(Seccomp, FirstDigestsAndSipHashUnderTheFilter) {
    if (kSanitized) GTEST_SKIP() << "the sanitizer runtime makes its own system calls";
    const int status = in_child([] {
        ntp::init_openssl_without_config();
        install_seccomp(SeccompAction::Kill);
        const uint8_t abc[] = {'a', 'b', 'c'};
        std::array<uint8_t, 16> key{};
        for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
        ntp::SipHash hash(key);
        return ntp::sha1(abc)[0] == 0xa9 && ntp::md5(abc)[0] == 0x90 &&
               hash(std::span<const uint8_t>()) == 0x726fdb47dd0e0e31U;
    });
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A [[refclock]] SHM segment that was not there at start-up is attached
// later (RefclockDevices retries), and every segment is detached at exit:
// both under the filter.
TEST(Seccomp, ShmSegmentsAttachAndDetachUnderTheFilter) {
    if (kSanitized) GTEST_SKIP() << "the sanitizer runtime makes its own system calls";
    // A key of its own (not 0x4e545030-33, which a gpsd on the host may use).
    const key_t key = static_cast<key_t>(0x6e740000 | (getpid() & 0xffff));
    const int made = shmget(key, 96, IPC_CREAT | IPC_EXCL | 0600);
    ASSERT_GE(made, 0) << std::strerror(errno);
    const int status = in_child([key] {
        install_seccomp(SeccompAction::Kill);
        const int id = shmget(key, 96, IPC_CREAT | 0600);
        if (id < 0) return false;
        void* at = shmat(id, nullptr, 0);
        return at != reinterpret_cast<void*>(-1) && shmdt(at) == 0;
    });
    shmctl(made, IPC_RMID, nullptr);
    EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace nanotime::daemon
