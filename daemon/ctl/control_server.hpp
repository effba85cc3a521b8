// control_server.hpp - the local control socket: AF_UNIX stream, framed JSON.
//
// Moves bytes only: frames come off the event loop, go through
// handle_request() with a fresh snapshot, and the response goes back. Who
// may run privileged commands is decided once per connection from
// SO_PEERCRED (uid, gid) and SO_PEERGROUPS (supplementary groups, however
// many).
//
// The socket is open to every local user (mode 0666 by default), so what
// one connection can make the daemon hold is bounded:
// - one request in flight: the next buffered request is answered only once
//   the previous reply has been handed to the kernel in full, and reading
//   stops meanwhile, so a client that sends without reading fills its own
//   socket buffers, not the daemon's memory. Per connection the daemon holds
//   at most one reply (<= kMaxResponseFrame), one partial request
//   (<= kMaxRequestFrame) and one receive buffer;
// - a connection that makes no progress for idle_timeout (sends nothing, or
//   does not read its reply) is closed;
// - at most max_connections at once; more are accepted and closed at once.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ctl/framing.hpp"
#include "ctl/handler.hpp"
#include "io/event_loop.hpp"

namespace nanotime::ctl {

struct ControlServerOptions {
    std::string path;
    unsigned mode = 0666;
    std::optional<gid_t> group;  // privileged group
    unsigned max_connections = 32;
    std::chrono::seconds idle_timeout{30};
};

class ControlServer {
  public:
    using SnapshotFn = std::function<DaemonSnapshot()>;
    using ActionFn = std::function<void(Action, const Caller&)>;

    // Creates, binds and listens on the socket (replacing a stale one);
    // throws std::system_error.
    ControlServer(io::EventLoop& loop, ControlServerOptions options, SnapshotFn snapshot,
                  ActionFn on_action);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    size_t connections() const { return sessions_.size(); }
    uint64_t requests() const { return requests_; }

    // Is this peer privileged? (root, the daemon's own uid, or the group)
    static bool is_privileged(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                              std::optional<gid_t> group, uid_t self);

  private:
    struct Session {
        FrameDecoder decoder{kMaxRequestFrame};
        Caller caller;
        uint64_t idle_timer = 0;
        bool replying = false;  // a reply is queued, not yet all with the kernel
    };
    void on_accept(int fd);
    void on_data(uint64_t conn, std::span<const uint8_t> data);
    void on_drained(uint64_t conn);
    // Answers the next buffered request unless a reply is still in flight.
    void serve_next(uint64_t conn);
    void arm_idle(uint64_t conn, Session& s);

    io::EventLoop& loop_;
    ControlServerOptions options_;
    SnapshotFn snapshot_;
    ActionFn on_action_;
    uint64_t listener_ = 0;
    std::map<uint64_t, Session> sessions_;
    uint64_t requests_ = 0;
};

// The supplementary groups of the process at the other end of the connected
// AF_UNIX socket @fd (SO_PEERGROUPS), all of them however many there are;
// empty if the kernel cannot say (before 4.13).
std::vector<gid_t> peer_groups(int fd);

// Blocking client, for nanotimectl and tests: one request, one response.
// Returns the response body, or nothing with @error set.
std::optional<std::string> request(const std::string& path, const std::string& body,
                                   std::string* error, int timeout_ms = 5000);

}  // namespace nanotime::ctl
