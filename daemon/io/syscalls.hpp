// syscalls.hpp - the system calls the event loop makes that a platform may
// refuse, as a table of function pointers.
//
// Why: the daemon must also run where some of them are missing or behave
// differently - old kernels, containers whose seccomp profile returns ENOSYS,
// and clknetsim (the clock and network simulator, which runs the unmodified
// binary through LD_PRELOAD and emulates only part of libc: socket() refuses
// SOCK_NONBLOCK|SOCK_CLOEXEC with EINVAL, sendmmsg and ppoll reach the real
// kernel with simulated descriptors, and poll() reports every descriptor it
// does not simulate as readable). Each fallback has a unit test; the tests
// make a call fail by replacing its pointer (LoopOptions::syscalls).
//
// The defaults are libc's functions, taken by address, so an LD_PRELOAD
// interposer sees the calls exactly as if they were made directly.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <string>

namespace nanotime::io {

struct Syscalls {
    int (*socket)(int domain, int type, int protocol);
    int (*socketpair)(int domain, int type, int protocol, int fds[2]);
    int (*fcntl)(int fd, int cmd, int arg);  // the int-argument forms only
    int (*setsockopt)(int fd, int level, int name, const void* value, socklen_t len);
    int (*poll)(pollfd* fds, nfds_t count, int timeout_ms);
    int (*recvmmsg)(int fd, mmsghdr* msgs, unsigned count, int flags, timespec* timeout);
    ssize_t (*recvmsg)(int fd, msghdr* msg, int flags);
    int (*sendmmsg)(int fd, mmsghdr* msgs, unsigned count, int flags);
    ssize_t (*sendmsg)(int fd, const msghdr* msg, int flags);
    int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
    int (*accept)(int fd, sockaddr* addr, socklen_t* len);
    int (*signalfd)(int fd, const sigset_t* mask, int flags);
    int (*pipe2)(int fds[2], int flags);
    int (*sigaction)(int sig, const struct sigaction* act, struct sigaction* old);

    // libc's functions.
    static const Syscalls& system();
};

// socket() made non-blocking and close-on-exec. Asks for both flags in the
// call (one system call); where that fails with EINVAL (a kernel or an
// emulation that does not know the type flags) the socket is made plain and
// the flags set with fcntl. -1 with errno on failure. @fell_back, when
// given, is set when the fcntl path was taken.
int open_socket(const Syscalls& sys, int domain, int type, int protocol, bool* fell_back = nullptr);
// The same for socketpair(); fds[] is untouched on failure.
int open_socketpair(const Syscalls& sys, int domain, int type, int fds[2],
                    bool* fell_back = nullptr);
// pipe2(O_NONBLOCK | O_CLOEXEC), or pipe + fcntl where pipe2 is refused.
int open_pipe(const Syscalls& sys, int fds[2]);
// O_NONBLOCK and FD_CLOEXEC on @fd; false with errno on failure.
bool set_nonblock_cloexec(const Syscalls& sys, int fd);

// Can a stream socket of the local family be had here (the control socket
// needs one)? Fills @why when not: clknetsim refuses AF_UNIX unless it
// simulates a Unix-socket network, and some sandboxes refuse the family.
bool unix_stream_sockets_available(const Syscalls& sys, std::string* why);

}  // namespace nanotime::io
