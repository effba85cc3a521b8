// control_server.cpp - the control socket's transport (see control_server.hpp):
// the AF_UNIX listener, idle timers and connection limit around ControlSession.
#include "ctl/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace nanotime::ctl {
namespace {

sockaddr_un unix_address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) {
        throw std::system_error(ENAMETOOLONG, std::generic_category(), "control socket path");
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

}  // namespace

ControlServer::ControlServer(io::EventLoop& loop, ControlServerOptions options, SnapshotFn snapshot,
                             ActionFn on_action, CallerManageFn manage)
    : loop_(loop),
      options_(std::move(options)),
      snapshot_(std::move(snapshot)),
      on_action_(std::move(on_action)),
      manage_(std::move(manage)) {
    const sockaddr_un addr = unix_address(options_.path);
    struct stat st {};
    if (lstat(options_.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(options_.path.c_str());
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "control socket");
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        chmod(options_.path.c_str(), options_.mode) != 0 ||
        (options_.group &&
         chown(options_.path.c_str(), static_cast<uid_t>(-1), *options_.group) != 0) ||
        listen(fd, 16) != 0) {
        const int err = errno;
        close(fd);
        throw std::system_error(err, std::generic_category(), "control socket " + options_.path);
    }
    listener_ = loop_.listen_stream(fd, [this](int conn_fd) { on_accept(conn_fd); });
}

ControlServer::~ControlServer() {
    loop_.close_listener(listener_);
    for (auto& [conn, s] : sessions_) {
        loop_.cancel_timer(s.idle_timer);
        loop_.close_stream(conn, false);
    }
    sessions_.clear();
    unlink(options_.path.c_str());
}

void ControlServer::on_accept(int fd) {
    if (sessions_.size() >= options_.max_connections) {
        close(fd);
        return;
    }
    const std::optional<Caller> caller = authenticate_unix_peer(fd, options_.group);
    if (!caller) {
        close(fd);
        return;
    }
    const uint64_t conn = loop_.add_stream(
        fd,
        [this](uint64_t c, std::span<const uint8_t> data) {
            auto it = sessions_.find(c);
            if (it == sessions_.end()) return;
            ControlSession& p = it->second.protocol;
            apply(c, p.on_data(data, snapshot_, manage_for(p.caller())));
        },
        [this](uint64_t c) {
            auto it = sessions_.find(c);
            if (it == sessions_.end()) return;
            loop_.cancel_timer(it->second.idle_timer);
            sessions_.erase(it);
        },
        [this](uint64_t c) {
            auto it = sessions_.find(c);
            if (it == sessions_.end()) return;
            ControlSession& p = it->second.protocol;
            apply(c, p.on_drained(snapshot_, manage_for(p.caller())));
        });
    auto [it, inserted] = sessions_.emplace(conn, Session(*caller));
    arm_idle(conn, it->second);
}

ManageFn ControlServer::manage_for(const Caller& caller) {
    if (!manage_) return {};
    return [this, caller](const ManageRequest& r) { return manage_(r, caller); };
}

void ControlServer::arm_idle(uint64_t conn, Session& s) {
    loop_.cancel_timer(s.idle_timer);
    s.idle_timer = loop_.add_timer_after(options_.idle_timeout, [this, conn] {
        auto it = sessions_.find(conn);
        if (it != sessions_.end()) it->second.idle_timer = 0;
        loop_.close_stream(conn, false);
    });
}

void ControlServer::apply(uint64_t conn, SessionStep step) {
    auto it = sessions_.find(conn);
    if (it == sessions_.end()) return;
    if (step.progress) arm_idle(conn, it->second);
    if (!step.write.empty()) {
        if (!step.close) ++requests_;  // a reply; the other write is the oversize error
        loop_.write_stream(conn, step.write);
    }
    if (step.pause_reading) loop_.pause_stream(conn);
    if (step.resume_reading) loop_.resume_stream(conn);
    if (step.close) {
        loop_.close_stream(conn, true);
        return;
    }
    if (step.action != Action::None && on_action_)
        on_action_(step.action, it->second.protocol.caller());
}

std::optional<std::string> request(const std::string& path, const std::string& body,
                                   std::string* error, int timeout_ms) {
    auto fail = [&](const std::string& what, int fd) -> std::optional<std::string> {
        if (error) *error = what + ": " + std::strerror(errno);
        if (fd >= 0) close(fd);
        return std::nullopt;
    };
    sockaddr_un addr{};
    try {
        addr = unix_address(path);
    } catch (const std::system_error& e) {
        if (error) *error = e.what();
        return std::nullopt;
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket", fd);
    timeval tv{timeout_ms / 1000, static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        return fail("cannot connect to " + path, fd);
    }
    const std::vector<uint8_t> frame = encode_frame(body);
    size_t sent = 0;
    while (sent < frame.size()) {
        const ssize_t n = send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return fail("send", fd);
        sent += static_cast<size_t>(n);
    }
    FrameDecoder decoder(kMaxResponseFrame);
    uint8_t buf[65536];
    for (;;) {
        if (auto f = decoder.next()) {
            close(fd);
            return f;
        }
        if (decoder.failed()) {
            errno = EMSGSIZE;
            return fail("response", fd);
        }
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0) {
            errno = ECONNRESET;
            return fail("daemon closed the connection", fd);
        }
        if (n < 0) return fail("receive", fd);
        decoder.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    }
}

}  // namespace nanotime::ctl
