// service_notify.cpp - the sd_notify(3) datagram and the watchdog variables.
#include "nanotimed/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace nanotime::daemon {
namespace {

// A positive decimal integer filling all of @text, as systemd parses these.
std::optional<unsigned long long> positive_integer(const char* text) {
    if (text == nullptr) return std::nullopt;
    const char* end = text + std::strlen(text);
    unsigned long long v = 0;
    const auto [ptr, ec] = std::from_chars(text, end, v);
    if (ec != std::errc() || ptr != end || ptr == text || v == 0) return std::nullopt;
    return v;
}

}  // namespace

bool notify_service_manager(const std::string& state) {
    const char* name = std::getenv("NOTIFY_SOCKET");
    if (name == nullptr || (name[0] != '/' && name[0] != '@') || name[1] == '\0') return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const size_t length = std::strlen(name);
    if (length > sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, name, length);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
    // A path's length counts its NUL when there is room for it (as in
    // libsystemd); an abstract name's does not (its bytes are the name).
    const bool path_nul = name[0] == '/' && length < sizeof addr.sun_path;
    const auto addr_length =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length + (path_nul ? 1 : 0));
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), addr_length);
    close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> service_watchdog_interval() {
    const std::optional<unsigned long long> usec = positive_integer(std::getenv("WATCHDOG_USEC"));
    if (!usec) return std::nullopt;
    if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr) {
        const std::optional<unsigned long long> pid = positive_integer(pid_text);
        if (!pid || *pid != static_cast<unsigned long long>(getpid())) return std::nullopt;
    }
    return std::chrono::microseconds(*usec);
}

}  // namespace nanotime::daemon
