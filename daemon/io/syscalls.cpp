#include "io/syscalls.hpp"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nanotime::io {

const Syscalls& Syscalls::system() {
    // Captureless lambdas where libc's prototype differs from ours (variadic
    // fcntl, const-ness of recvmmsg's timeout across glibc versions); plain
    // addresses elsewhere.
    static const Syscalls table{
        .socket = ::socket,
        .socketpair = ::socketpair,
        .fcntl = [](int fd, int cmd, int arg) { return ::fcntl(fd, cmd, arg); },
        .setsockopt = ::setsockopt,
        .poll = ::poll,
        .recvmmsg = [](int fd, mmsghdr* msgs, unsigned count, int flags,
                       timespec* timeout) { return ::recvmmsg(fd, msgs, count, flags, timeout); },
        .recvmsg = ::recvmsg,
        .sendmmsg = [](int fd, mmsghdr* msgs, unsigned count,
                       int flags) { return ::sendmmsg(fd, msgs, count, flags); },
        .sendmsg = ::sendmsg,
        .accept4 = ::accept4,
        .accept = ::accept,
        .signalfd = ::signalfd,
        .pipe2 = ::pipe2,
        .sigaction = ::sigaction,
    };
    return table;
}

bool set_nonblock_cloexec(const Syscalls& sys, int fd) {
    const int fl = sys.fcntl(fd, F_GETFL, 0);
    if (fl < 0 || sys.fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return false;
    const int fd_flags = sys.fcntl(fd, F_GETFD, 0);
    return fd_flags >= 0 && sys.fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) == 0;
}

int open_socket(const Syscalls& sys, int domain, int type, int protocol, bool* fell_back) {
    if (fell_back != nullptr) *fell_back = false;
    int fd = sys.socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd >= 0 || errno != EINVAL) return fd;
    fd = sys.socket(domain, type, protocol);
    if (fd < 0) return -1;
    if (!set_nonblock_cloexec(sys, fd)) {
        const int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (fell_back != nullptr) *fell_back = true;
    return fd;
}

int open_socketpair(const Syscalls& sys, int domain, int type, int fds[2], bool* fell_back) {
    if (fell_back != nullptr) *fell_back = false;
    int pair[2];
    if (sys.socketpair(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        if (errno != EINVAL || sys.socketpair(domain, type, 0, pair) != 0) return -1;
        if (!set_nonblock_cloexec(sys, pair[0]) || !set_nonblock_cloexec(sys, pair[1])) {
            const int err = errno;
            close(pair[0]);
            close(pair[1]);
            errno = err;
            return -1;
        }
        if (fell_back != nullptr) *fell_back = true;
    }
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 0;
}

int open_pipe(const Syscalls& sys, int fds[2]) {
    int p[2];
    if (sys.pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
        if (pipe(p) != 0) return -1;
        if (!set_nonblock_cloexec(sys, p[0]) || !set_nonblock_cloexec(sys, p[1])) {
            const int err = errno;
            close(p[0]);
            close(p[1]);
            errno = err;
            return -1;
        }
    }
    fds[0] = p[0];
    fds[1] = p[1];
    return 0;
}

bool unix_stream_sockets_available(const Syscalls& sys, std::string* why) {
    // Exactly the call the control server makes (ctl/control_server.cpp), so
    // that a yes here means its socket() will succeed too.
    const int fd = sys.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (why != nullptr) *why = std::string("socket(AF_UNIX): ") + std::strerror(errno);
        return false;
    }
    close(fd);
    return true;
}

}  // namespace nanotime::io
