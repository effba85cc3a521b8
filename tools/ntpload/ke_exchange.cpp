// ke_exchange.cpp - one NTS-KE exchange over a non-blocking socket (see
// ke_exchange.hpp).
#include "ke_exchange.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nanotime::tools {
namespace {

constexpr size_t kStallOctets = 4;  // one KE record header, no body

double mono_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

nts::KeClientConfig bench_ke_config() {
    nts::KeClientConfig c;
    c.ke_host = "nts-bench";  // NTP goes where the caller says, not to this name
    // AES-SIV-CMAC-256 only: the load compares servers doing the same work,
    // and chronyd 4.3 (the reference) knows no other.
    c.aead_algorithms = {static_cast<uint16_t>(nts::AeadAlgorithm::AesSivCmac256)};
    return c;
}

}  // namespace

std::shared_ptr<io::TlsContext> ke_client_context(const std::string& trusted_pem) {
    io::TlsClientConfig c;
    c.trusted_pem = trusted_pem;
    c.alpn = {"ntske/1"};
    return io::TlsContext::client(c);
}

KeExchange::KeExchange(std::shared_ptr<io::TlsContext> tls, const sockaddr_in& server, bool stall,
                       in_addr source)
    : tls_(std::move(tls)),
      ke_(bench_ke_config(),
          [this](std::string_view label, std::span<const uint8_t> context, size_t length) {
              return tls_.export_keying_material(label, context, length);
          }),
      stall_(stall) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        fail(std::string("socket: ") + std::strerror(errno));
        return;
    }
    const linger reset{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    if (source.s_addr != 0) {
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr = source;
        if (bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
            fail(std::string("bind: ") + std::strerror(errno));
            return;
        }
    }
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
        errno != EINPROGRESS) {
        fail(std::string("connect: ") + std::strerror(errno));
        return;
    }
    tls_.take_ciphertext(out_);  // the ClientHello, sent once connected
}

KeExchange::~KeExchange() {
    if (fd_ >= 0) close(fd_);
}

KeExchange::Status KeExchange::fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    status_ = Status::Failed;
    return status_;
}

void KeExchange::pump() {
    if (tls_.handshake_done() && !request_sent_) {
        const auto& request = ke_.request();
        const size_t n = stall_ ? std::min(kStallOctets, request.size()) : request.size();
        tls_.write(std::span<const uint8_t>(request.data(), n));
        request_sent_ = true;
        if (stall_) status_ = Status::Stalled;
    }
    if (sent_ == out_.size()) {
        out_.clear();
        sent_ = 0;
    }
    tls_.take_ciphertext(out_);
    plain_.clear();
    tls_.take_plaintext(plain_);
    if (!plain_.empty() && !stall_ && ke_.feed(plain_) == nts::KeClientStatus::Done) {
        status_ = Status::Done;
    }
}

KeExchange::Status KeExchange::on_event(bool readable, bool writable) {
    if (status_ == Status::Done || status_ == Status::Failed) return status_;
    if (connecting_ && (writable || readable)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return fail(std::string("connect: ") + std::strerror(err));
        connecting_ = false;
    }
    if (readable) {
        uint8_t buf[16384];
        for (;;) {
            const ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                if (!tls_.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n))))
                    return fail("TLS: " + tls_.error());
                pump();
                if (status_ == Status::Done) return status_;
                continue;
            }
            if (n == 0) {
                // A server at its connection limit closes at accept.
                if (!tls_.handshake_done())
                    return fail("closed by the server before the handshake");
                if (ke_.peer_closed() == nts::KeClientStatus::Done) return status_ = Status::Done;
                return fail(ke_.status() == nts::KeClientStatus::Failed
                                ? std::string(ke_.failure().detail)
                                : "closed by the server before the response");
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            return fail(std::string("recv: ") + std::strerror(errno));
        }
        if (ke_.status() == nts::KeClientStatus::Failed)
            return fail(std::string(ke_.failure().detail));
    }
    if (!connecting_) {
        pump();
        while (sent_ < out_.size()) {
            const ssize_t n = send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
            if (n > 0) {
                sent_ += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0 && errno == EINTR) continue;
            return fail(std::string("send: ") + std::strerror(errno));
        }
    }
    return status_;
}

std::optional<nts::KeClientResult> ke_exchange_blocking(std::shared_ptr<io::TlsContext> tls,
                                                        const sockaddr_in& server, double timeout_s,
                                                        std::string& error) {
    KeExchange ke(std::move(tls), server);
    const double end = mono_s() + timeout_s;
    while (ke.status() == KeExchange::Status::Running) {
        const double left = end - mono_s();
        if (left <= 0) {
            error = "no NTS-KE response within the timeout";
            return std::nullopt;
        }
        pollfd p{ke.fd(), static_cast<short>(POLLIN | (ke.wants_write() ? POLLOUT : 0)), 0};
        const int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
        if (r < 0 && errno != EINTR) {
            error = std::string("poll: ") + std::strerror(errno);
            return std::nullopt;
        }
        if (r > 0)
            ke.on_event((p.revents & (POLLIN | POLLERR | POLLHUP)) != 0,
                        (p.revents & POLLOUT) != 0);
    }
    if (ke.status() != KeExchange::Status::Done) {
        error = ke.error();
        return std::nullopt;
    }
    return ke.result();
}

}  // namespace nanotime::tools
