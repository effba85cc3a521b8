// The sd_notify(3) datagram (nanotimed/service_notify) received on a socket
// the test binds, at a path and at an abstract name, and the watchdog
// variables read as sd_watchdog_enabled(3) reads them.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "nanotimed/service_notify.hpp"

namespace nanotime::daemon {
namespace {

// A datagram socket bound at @name (a path, or '@' and an abstract name).
class Listener {
  public:
    explicit Listener(const std::string& name) : name_(name) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name[0] == '@') addr.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        if (name[0] == '/') unlink(name.c_str());
        bound_ = bind(fd_, reinterpret_cast<const sockaddr*>(&addr), length) == 0;
    }
    ~Listener() {
        close(fd_);
        if (name_[0] == '/') unlink(name_.c_str());
    }
    bool bound() const { return bound_; }
    std::string receive() const {
        char buf[512];
        const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<size_t>(n));
    }

  private:
    std::string name_;
    int fd_ = -1;
    bool bound_ = false;
};

class ServiceNotify : public ::testing::Test {
  protected:
    void TearDown() override {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
    }
};

TEST_F(ServiceNotify, DatagramToAPath) {
    const std::string path = ::testing::TempDir() + "nanotime-notify-" + std::to_string(getpid());
    Listener l(path);
    ASSERT_TRUE(l.bound());
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
    EXPECT_TRUE(notify_service_manager("READY=1\nSTATUS=synchronised"));
    EXPECT_EQ(l.receive(), "READY=1\nSTATUS=synchronised");
}

TEST_F(ServiceNotify, DatagramToAnAbstractName) {
    const std::string name = "@nanotime-notify-" + std::to_string(getpid());
    Listener l(name);
    ASSERT_TRUE(l.bound());
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
    EXPECT_TRUE(notify_service_manager("WATCHDOG=1"));
    EXPECT_EQ(l.receive(), "WATCHDOG=1");
}

TEST_F(ServiceNotify, NothingToNotifyWithoutAUsableSocket) {
    EXPECT_FALSE(notify_service_manager("READY=1"));  // unset: not under systemd
    for (const char* bad : {"", "@", "relative/path", "vsock:2:1234"}) {
        setenv("NOTIFY_SOCKET", bad, 1);
        EXPECT_FALSE(notify_service_manager("READY=1")) << bad;
    }
    setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);  // over sun_path
    EXPECT_FALSE(notify_service_manager("READY=1"));
    setenv("NOTIFY_SOCKET", "/nonexistent/nanotime-notify", 1);  // nobody listening
    EXPECT_FALSE(notify_service_manager("READY=1"));
}

TEST_F(ServiceNotify, WatchdogIntervalAsSystemdSetsIt) {
    EXPECT_FALSE(service_watchdog_interval());  // unset
    setenv("WATCHDOG_USEC", "60000000", 1);
    EXPECT_EQ(service_watchdog_interval(), std::chrono::seconds(60));
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    EXPECT_EQ(service_watchdog_interval(), std::chrono::seconds(60));
    // Meant for another process (the service's main process is not us).
    setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
    EXPECT_FALSE(service_watchdog_interval());
    unsetenv("WATCHDOG_PID");
    for (const char* bad : {"", "0", "-5", "12s", "abc", "99999999999999999999999"}) {
        setenv("WATCHDOG_USEC", bad, 1);
        EXPECT_FALSE(service_watchdog_interval()) << bad;
    }
}

}  // namespace
}  // namespace nanotime::daemon
