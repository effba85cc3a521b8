// ke_exchange.hpp - one NTS-KE exchange (RFC 8915 §4) as a load tool runs it:
// a non-blocking TCP connection to the server, the project's TLS seam
// (io::TlsSession, TLS 1.3 over memory BIOs) and the sans-IO client
// (nts::KeClientSession). ntpload uses it once per NTS server, blocking
// (ke_exchange_blocking), to get keys and cookies; ntskeload runs hundreds
// of them at once from an epoll loop.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tls_session.hpp"
#include "nts/ke_client.hpp"

namespace nanotime::tools {

// The TLS client context for NTS-KE load: TLS 1.3, ALPN ntske/1, the server's
// certificate checked against @trusted_pem (the benchmark's self-signed
// certificate), no name check (the servers listen on addresses only a
// benchmark knows; the chain is still verified).
std::shared_ptr<io::TlsContext> ke_client_context(const std::string& trusted_pem);

class KeExchange {
  public:
    enum class Status { Running, Stalled, Done, Failed };

    // Connects (non-blocking) to @server. @stall: after the handshake, send
    // only the first 4 octets of the KE request and then nothing (a client
    // that stops mid-request, holding the server's connection state).
    // @source: the local address to bind (0: chosen by routing). The
    // destructor closes with a reset, so that no TIME_WAIT is left behind
    // at thousands of connections a second.
    KeExchange(std::shared_ptr<io::TlsContext> tls, const sockaddr_in& server, bool stall = false,
               in_addr source = {});
    ~KeExchange();
    KeExchange(const KeExchange&) = delete;
    KeExchange& operator=(const KeExchange&) = delete;

    int fd() const { return fd_; }
    // Whether ciphertext waits for the socket (poll for POLLOUT too).
    bool wants_write() const { return connecting_ || sent_ < out_.size(); }
    // Moves bytes after the socket polled @readable / @writable.
    Status on_event(bool readable, bool writable);
    Status status() const { return status_; }
    // Done: the keys and cookies. Failed: why.
    const nts::KeClientResult& result() const { return ke_.result(); }
    const std::string& error() const { return error_; }

  private:
    Status fail(std::string why);
    void pump();  // TLS ciphertext into out_, plaintext into the KE session

    int fd_ = -1;
    io::TlsSession tls_;
    nts::KeClientSession ke_;
    bool stall_;
    bool connecting_ = true;
    bool request_sent_ = false;
    Status status_ = Status::Running;
    std::vector<uint8_t> out_;  // ciphertext to send
    size_t sent_ = 0;
    std::vector<uint8_t> plain_;
    std::string error_;
};

// One whole exchange, waiting at most @timeout_s: the result, or nullopt
// with @error set.
std::optional<nts::KeClientResult> ke_exchange_blocking(std::shared_ptr<io::TlsContext> tls,
                                                        const sockaddr_in& server, double timeout_s,
                                                        std::string& error);

}  // namespace nanotime::tools
