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

std::vector<gid_t> peer_groups(int fd) {
    // Room for 64 first (enough for nearly everyone); a peer in more groups
    // makes getsockopt fail with ERANGE and say how much room all of them
    // need. The groups were fixed when the peer connected, so the second call
    // fits.
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 2; ++attempt) {
        socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
            groups.resize(len / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE) break;
        groups.resize(len / sizeof(gid_t));
    }
    return {};
}

bool ControlServer::is_privileged(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                                  std::optional<gid_t> group, uid_t self) {
    if (uid == 0 || uid == self) return true;
    if (!group) return false;
    return gid == *group || std::find(groups.begin(), groups.end(), *group) != groups.end();
}

ControlServer::ControlServer(io::EventLoop& loop, ControlServerOptions options, SnapshotFn snapshot,
                             ActionFn on_action)
    : loop_(loop),
      options_(std::move(options)),
      snapshot_(std::move(snapshot)),
      on_action_(std::move(on_action)) {
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
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        close(fd);
        return;
    }
    const std::vector<gid_t> groups = peer_groups(fd);
    Session s;
    s.caller = Caller{cred.uid, cred.gid, cred.pid,
                      is_privileged(cred.uid, cred.gid, groups, options_.group, geteuid())};
    const uint64_t conn = loop_.add_stream(
        fd, [this](uint64_t c, std::span<const uint8_t> data) { on_data(c, data); },
        [this](uint64_t c) {
            auto it = sessions_.find(c);
            if (it == sessions_.end()) return;
            loop_.cancel_timer(it->second.idle_timer);
            sessions_.erase(it);
        },
        [this](uint64_t c) { on_drained(c); });
    auto [it, inserted] = sessions_.emplace(conn, std::move(s));
    arm_idle(conn, it->second);
}

void ControlServer::arm_idle(uint64_t conn, Session& s) {
    loop_.cancel_timer(s.idle_timer);
    s.idle_timer = loop_.add_timer_after(options_.idle_timeout, [this, conn] {
        auto it = sessions_.find(conn);
        if (it != sessions_.end()) it->second.idle_timer = 0;
        loop_.close_stream(conn, false);
    });
}

void ControlServer::on_data(uint64_t conn, std::span<const uint8_t> data) {
    auto it = sessions_.find(conn);
    if (it == sessions_.end()) return;
    Session& s = it->second;
    s.decoder.feed(data);
    // Bytes that arrive while a reply waits (at most the one receive that
    // was in flight when reading stopped) wait in the decoder, and are not
    // progress: a client that does not read its replies times out.
    if (!s.replying) arm_idle(conn, s);
    serve_next(conn);
}

void ControlServer::on_drained(uint64_t conn) {
    auto it = sessions_.find(conn);
    if (it == sessions_.end() || !it->second.replying) return;
    Session& s = it->second;
    s.replying = false;
    arm_idle(conn, s);
    loop_.resume_stream(conn);
    serve_next(conn);
}

void ControlServer::serve_next(uint64_t conn) {
    auto it = sessions_.find(conn);
    if (it == sessions_.end()) return;
    Session& s = it->second;
    if (s.replying) return;
    if (auto frame = s.decoder.next()) {
        ++requests_;
        HandlerResult r = handle_request(*frame, s.caller, snapshot_());
        loop_.write_stream(conn, encode_frame(r.response));
        // One reply in flight: read nothing more until it is written
        // (on_drained), so requests cannot pile up replies in the daemon.
        s.replying = true;
        loop_.pause_stream(conn);
        if (r.action != Action::None && on_action_) on_action_(r.action, s.caller);
        return;
    }
    if (s.decoder.failed()) {
        loop_.write_stream(conn, encode_frame(R"({"ok":false,"error":"frame too large"})"));
        loop_.close_stream(conn, true);
    }
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
