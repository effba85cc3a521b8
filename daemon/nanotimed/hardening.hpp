// hardening.hpp - privilege drop and the seccomp allow-list.
//
// Start-up order in nanotimed: read the configuration, open every socket
// (port 123, the control socket) and the clock device, create the io_uring
// ring, then drop_privileges(), then install_seccomp(). After that the daemon
// never forks or executes anything, and the filter kills it if it tries.
#pragma once

#include <string>
#include <vector>

namespace nanotime::daemon {

struct PrivilegeResult {
    bool changed_user = false;
    std::vector<std::string> capabilities;  // effective after the drop, e.g. {"cap_sys_time"}
};

// As root with a non-empty @user: switch to that user and group (no
// supplementary groups). In every case: keep only CAP_SYS_TIME (and
// CAP_NET_BIND_SERVICE when @keep_net_bind), of those the process holds.
// CAP_SYS_TIME covers everything the daemon does to a clock, the netlink
// commands included (binding PPS sources, injecting bridged edges,
// SET_CLOCK): the kernel modules ask for nothing else.
// Throws std::runtime_error with the reason.
PrivilegeResult drop_privileges(const std::string& user, bool keep_net_bind);

enum class SeccompAction { Kill, Log };

// The system calls nanotimed makes after start-up, with either backend.
const std::vector<std::string>& seccomp_allow_list();

// Installs the allow-list (sets no_new_privs). Anything else kills the
// process (Kill) or is logged by the kernel and allowed (Log).
// Throws std::runtime_error.
void install_seccomp(SeccompAction action);

}  // namespace nanotime::daemon
