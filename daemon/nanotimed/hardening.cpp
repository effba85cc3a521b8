// hardening.cpp - privilege drop and the seccomp allow-list (see hardening.hpp).
#include "nanotimed/hardening.hpp"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nanotime::daemon {
namespace {

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

PrivilegeResult drop_privileges(const std::string& user, bool keep_net_bind) {
    PrivilegeResult result;
    if (geteuid() == 0 && !user.empty()) {
        errno = 0;
        const passwd* pw = getpwnam(user.c_str());
        if (pw == nullptr) throw std::runtime_error("unknown user '" + user + "'");
        const uid_t uid = pw->pw_uid;
        const gid_t gid = pw->pw_gid;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
            throw std::runtime_error(errno_text("PR_SET_KEEPCAPS"));
        if (setgroups(0, nullptr) != 0) throw std::runtime_error(errno_text("setgroups"));
        if (setresgid(gid, gid, gid) != 0) throw std::runtime_error(errno_text("setresgid"));
        if (setresuid(uid, uid, uid) != 0) throw std::runtime_error(errno_text("setresuid"));
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        result.changed_user = uid != 0;
    }
    // Keep only what we need, of what we have.
    cap_t current = cap_get_proc();
    if (current == nullptr) throw std::runtime_error(errno_text("cap_get_proc"));
    cap_t wanted = cap_init();
    std::vector<cap_value_t> keep = {CAP_SYS_TIME};
    if (keep_net_bind) keep.push_back(CAP_NET_BIND_SERVICE);
    for (cap_value_t c : keep) {
        cap_flag_value_t permitted = CAP_CLEAR;
        cap_get_flag(current, c, CAP_PERMITTED, &permitted);
        if (permitted != CAP_SET) continue;
        cap_set_flag(wanted, CAP_PERMITTED, 1, &c, CAP_SET);
        cap_set_flag(wanted, CAP_EFFECTIVE, 1, &c, CAP_SET);
        char* name = cap_to_name(c);
        result.capabilities.emplace_back(name);
        cap_free(name);
    }
    const int rc = cap_set_proc(wanted);
    const int err = errno;
    cap_free(wanted);
    cap_free(current);
    if (rc != 0) {
        errno = err;
        throw std::runtime_error(errno_text("cap_set_proc"));
    }
    // Ambient capabilities must not survive into anything we might run.
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return result;
}

const std::vector<std::string>& seccomp_allow_list() {
    static const std::vector<std::string> list = {
        // I/O on descriptors we hold, both backends
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "pwrite64",
        "close",
        "lseek",
        "fcntl",
        "ioctl",
        "io_uring_enter",
        "ppoll",
        "poll",
        // sockets: NTP client requests (a fresh socket per request), DNS, sd_notify
        "socket",
        "bind",
        "connect",
        "getsockname",
        "getpeername",
        "setsockopt",
        "getsockopt",
        "sendmsg",
        "recvmsg",
        "sendmmsg",
        "recvmmsg",
        "sendto",
        "recvfrom",
        "accept4",
        "shutdown",
        // memory and threads the C/C++ runtime uses
        "brk",
        "mmap",
        "munmap",
        "mremap",
        "mprotect",
        "madvise",
        "futex",
        "set_robust_list",
        "rseq",
        "sched_yield",
        "sched_getaffinity",
        // signals (the signalfd or self-pipe is made before the filter; the
        // fallback handlers write to the pipe)
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigaction",
        "sigaltstack",
        "restart_syscall",
        // time: reading and disciplining clocks
        "clock_gettime",
        "clock_getres",
        "gettimeofday",
        "time",
        "clock_adjtime",
        "adjtimex",
        "clock_nanosleep",
        "nanosleep",
        // files: drift file (write + rename), resolver and leap-seconds reads, control socket
        // unlink
        "openat",
        "fstat",
        "newfstatat",
        "statx",
        "rename",
        "renameat",
        "renameat2",
        "fsync",
        "fdatasync",
        // [broker]: SQLite sizes its WAL and shared-memory index files and
        // checks for the WAL by name
        "ftruncate",
        "access",
        "faccessat",
        "faccessat2",
        // the NTS key file: its temporary file set to 0600 through the fd
        // (no path: it can only change files the daemon has open)
        "fchmod",
        "unlink",
        "unlinkat",
        "getdents64",
        // [[refclock]] driver "shm": a segment that could not be had at
        // start-up is tried again, and segments are detached at exit
        "shmget",
        "shmat",
        "shmdt",
        // identity and randomness
        "getpid",
        "gettid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getrandom",
        "uname",
        // glibc's qsort() sizes its buffer from the memory size (sysinfo);
        // OpenSSL sorts its certificate store when an NTS-KE client
        // verifies a server
        "sysinfo",
        // leaving
        "exit",
        "exit_group",
        "tgkill",
        "kill",
#if defined(__SANITIZE_ADDRESS__)
        // Test builds only (NANOTIME_SANITIZE: ASan + UBSan): UBSan's vptr
        // check probes whether memory is readable by writing it into a pipe.
        "pipe2",
#endif
    };
    return list;
}

void install_seccomp(SeccompAction action) {
    const uint32_t deny = action == SeccompAction::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG;
    scmp_filter_ctx ctx = seccomp_init(deny);
    if (ctx == nullptr) throw std::runtime_error("seccomp_init failed");
    for (const std::string& name : seccomp_allow_list()) {
        const int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
        const int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (rc < 0) {
            seccomp_release(ctx);
            throw std::runtime_error("seccomp_rule_add " + name + ": " + std::strerror(-rc));
        }
    }
    // Threads (server.workers > 1, the resolver) start after the filter: clone only with
    // CLONE_THREAD, so no fork; clone3 hides its flags in memory a filter
    // cannot read, so it fails with ENOSYS and glibc falls back to clone.
    int trc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (trc == 0) trc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (trc < 0) {
        seccomp_release(ctx);
        throw std::runtime_error(std::string("seccomp_rule_add clone: ") + std::strerror(-trc));
    }
    // The resolver makes its wake-up socket pair with the first host name to
    // look up, which may come after the filter (a reload adding a name, say):
    // AF_UNIX only.
    trc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                           SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    if (trc < 0) {
        seccomp_release(ctx);
        throw std::runtime_error(std::string("seccomp_rule_add socketpair: ") +
                                 std::strerror(-trc));
    }
    const int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) throw std::runtime_error(std::string("seccomp_load: ") + std::strerror(-rc));
}

}  // namespace nanotime::daemon
