// peer_auth.hpp - the control socket's authenticator: who is at the other
// end of an AF_UNIX connection (SO_PEERCRED: uid, gid, pid; SO_PEERGROUPS:
// every supplementary group) and whether that caller may run privileged
// commands. Decided once per connection, before any byte is read.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "ctl/handler.hpp"

namespace nanotime::ctl {

// The caller on the connected AF_UNIX socket @fd; nothing when the kernel
// will not say (the transport then closes the connection).
std::optional<Caller> authenticate_unix_peer(int fd, std::optional<gid_t> privileged_group);

// Is this peer privileged? (root, the daemon's own uid @self, or a member
// of @group, primary or supplementary)
bool is_privileged_peer(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                        std::optional<gid_t> group, uid_t self);

// The supplementary groups of the process at the other end of the connected
// AF_UNIX socket @fd (SO_PEERGROUPS), all of them however many there are;
// empty if the kernel cannot say (before 4.13).
std::vector<gid_t> peer_groups(int fd);

}  // namespace nanotime::ctl
