// control_server.hpp - the local control socket's transport: AF_UNIX
// stream on the event loop, framed JSON.
//
// Three parts: this transport (socket, listener, idle timer, limits), the
// authenticator (peer_auth.hpp: SO_PEERCRED and SO_PEERGROUPS, decided once
// per connection) and the sans-IO session (control_session.hpp: framing,
// the request handler, one request in flight). The transport only carries
// out what the session's steps say.
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

#include "ctl/control_session.hpp"
#include "ctl/framing.hpp"
#include "ctl/handler.hpp"
#include "ctl/peer_auth.hpp"
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
    // Carries out a management command for @caller (handler.hpp).
    using CallerManageFn = std::function<ManageOutcome(const ManageRequest&, const Caller&)>;

    // Creates, binds and listens on the socket (replacing a stale one);
    // throws std::system_error. Without @manage, management commands are
    // refused.
    ControlServer(io::EventLoop& loop, ControlServerOptions options, SnapshotFn snapshot,
                  ActionFn on_action, CallerManageFn manage = {});
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    size_t connections() const { return sessions_.size(); }
    uint64_t requests() const { return requests_; }

    // Is this peer privileged? (peer_auth.hpp's is_privileged_peer)
    static bool is_privileged(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                              std::optional<gid_t> group, uid_t self) {
        return is_privileged_peer(uid, gid, groups, group, self);
    }

  private:
    struct Session {
        explicit Session(Caller caller) : protocol(caller) {}
        ControlSession protocol;
        uint64_t idle_timer = 0;
    };
    void on_accept(int fd);
    // Carries out what the session asked for.
    void apply(uint64_t conn, SessionStep step);
    void arm_idle(uint64_t conn, Session& s);
    // manage_ bound to @caller (empty without manage_).
    ManageFn manage_for(const Caller& caller);

    io::EventLoop& loop_;
    ControlServerOptions options_;
    SnapshotFn snapshot_;
    ActionFn on_action_;
    CallerManageFn manage_;
    uint64_t listener_ = 0;
    std::map<uint64_t, Session> sessions_;
    uint64_t requests_ = 0;
};

// Blocking client, for nanotimectl and tests: one request, one response.
// Returns the response body, or nothing with @error set.
std::optional<std::string> request(const std::string& path, const std::string& body,
                                   std::string* error, int timeout_ms = 5000);

}  // namespace nanotime::ctl
