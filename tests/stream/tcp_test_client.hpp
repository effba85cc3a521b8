// tcp_test_client.hpp - the plain-socket side of the stream tests and of
// bench_stream_seam: a blocking connect to loopback, and a close by reset.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace nanotime::io::testing {

// A blocking client socket connected to 127.0.0.1:@port, or -1.
inline int raw_connect(uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Closes with a reset (SO_LINGER 0): no TIME_WAIT left on the client side.
inline void reset_close(int fd) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

}  // namespace nanotime::io::testing
