// peer_auth.cpp - SO_PEERCRED / SO_PEERGROUPS authentication of control
// socket peers (see peer_auth.hpp).
#include "ctl/peer_auth.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace nanotime::ctl {

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

bool is_privileged_peer(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                        std::optional<gid_t> group, uid_t self) {
    if (uid == 0 || uid == self) return true;
    if (!group) return false;
    return gid == *group || std::find(groups.begin(), groups.end(), *group) != groups.end();
}

std::optional<Caller> authenticate_unix_peer(int fd, std::optional<gid_t> privileged_group) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
    const std::vector<gid_t> groups = peer_groups(fd);
    return Caller{cred.uid, cred.gid, cred.pid,
                  is_privileged_peer(cred.uid, cred.gid, groups, privileged_group, geteuid())};
}

}  // namespace nanotime::ctl
