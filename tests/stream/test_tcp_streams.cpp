// TCP on the event loop, both backends: listener helper, outbound connect
// (success, refusal, writes queued before the connection is up) and write
// back-pressure (output cap: the loop stops reading a connection whose
// peer does not read its replies, and resumes once they drain).
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "io/sockaddr.hpp"
#include "loop_test_support.hpp"

namespace nanotime::io::testing {
namespace {

uint16_t port_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len)->port;
}

std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

using TcpStreamTest = LoopTest;

// An echo server on the loop: every accepted connection echoes what it reads.
struct EchoServer {
    EchoServer(EventLoop& loop, size_t output_cap = 0) : loop(loop) {
        fd = open_tcp_listener(ntp::SocketAddress::v4_loopback(0));
        port = port_of(fd);
        listener = loop.listen_stream(fd, [this, output_cap](int cfd) {
            const uint64_t c = this->loop.add_stream(
                cfd,
                [this](uint64_t id, std::span<const uint8_t> d) {
                    received += d.size();
                    this->loop.write_stream(id, d);
                },
                [this](uint64_t) { ++closed; });
            if (output_cap != 0) this->loop.set_stream_output_cap(c, output_cap);
            conns.push_back(c);
        });
    }
    EventLoop& loop;
    int fd = -1;
    uint16_t port = 0;
    uint64_t listener = 0;
    std::vector<uint64_t> conns;
    size_t received = 0;
    int closed = 0;
};

TEST_P(TcpStreamTest, ConnectWritesQueuedBeforeConnectedAndEchoes) {
    EchoServer server(*loop_);
    int outcome = -1;
    std::string echoed;
    bool client_closed = false;
    const uint64_t c = loop_->connect_stream(
        ntp::SocketAddress::v4_loopback(server.port), [&](uint64_t, int err) { outcome = err; },
        [&](uint64_t, std::span<const uint8_t> d) { echoed.append(d.begin(), d.end()); },
        [&](uint64_t) { client_closed = true; });
    loop_->write_stream(c, bytes("queued before connect;"));
    ASSERT_TRUE(run_until(*loop_, [&] { return outcome == 0; }));
    loop_->write_stream(c, bytes("after"));
    ASSERT_TRUE(run_until(*loop_, [&] { return echoed.size() == 27; })) << echoed;
    EXPECT_EQ(echoed, "queued before connect;after");
    loop_->close_stream(c);
    ASSERT_TRUE(run_until(*loop_, [&] { return client_closed && server.closed == 1; }));
}

TEST_P(TcpStreamTest, RefusedConnectReportsTheErrorThenCloses) {
    // A port nobody listens on: bind one, note it, close it.
    const int probe = open_tcp_listener(ntp::SocketAddress::v4_loopback(0));
    const uint16_t port = port_of(probe);
    close(probe);
    int outcome = -1;
    bool closed = false;
    loop_->connect_stream(
        ntp::SocketAddress::v4_loopback(port), [&](uint64_t, int err) { outcome = err; },
        [](uint64_t, std::span<const uint8_t>) {}, [&](uint64_t) { closed = true; });
    ASSERT_TRUE(run_until(*loop_, [&] { return closed; }));
    EXPECT_EQ(outcome, ECONNREFUSED);
}

TEST_P(TcpStreamTest, OutputCapStopsReadingAPeerThatDoesNotReadReplies) {
    constexpr size_t kCap = 64 * 1024;
    EchoServer server(*loop_, kCap);
    // A raw client that writes up to 32 MiB and reads nothing back for now;
    // small socket buffers so that the kernel's share is small next to it.
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int small = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    const std::vector<uint8_t> chunk(64 * 1024, 0x5a);
    size_t sent = 0;
    size_t max_queued = 0;
    const auto end = MonoClock::now() + std::chrono::seconds(3);
    int stalled = 0;  // wake-ups in a row in which the client could not write
    while (sent < 32u << 20 && stalled < 200 && MonoClock::now() < end) {
        const ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) sent += static_cast<size_t>(n);
        stalled = n > 0 ? 0 : stalled + 1;
        loop_->run_once(std::chrono::milliseconds(1));
        if (!server.conns.empty())
            max_queued = std::max(max_queued, loop_->stream_queued_bytes(server.conns[0]));
    }
    ASSERT_EQ(server.conns.size(), 1u);
    EXPECT_LT(sent, 32u << 20) << "the server kept reading: no back-pressure reached the client";
    EXPECT_TRUE(loop_->stream_over_cap(server.conns[0]));
    // Over the cap by at most one read (4 KiB) per wake-up's last read.
    EXPECT_LE(max_queued, kCap + 4096);
    // Now read everything back: reading resumes and every byte comes home.
    size_t got = 0;
    std::vector<uint8_t> buf(256 * 1024);
    const auto end2 = MonoClock::now() + std::chrono::seconds(5);
    while (got < sent && MonoClock::now() < end2) {
        const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) got += static_cast<size_t>(n);
        loop_->run_once(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(got, sent);
    EXPECT_EQ(server.received, sent);
    EXPECT_FALSE(loop_->stream_over_cap(server.conns[0]));
    close(fd);
}

NANOTIME_ALL_BACKENDS(TcpStreamTest);

}  // namespace
}  // namespace nanotime::io::testing
