// nts_ke_client.hpp - the NTS-KE exchanges of nanotimed's NTS sources
// (RFC 8915 §4), on the main loop: a TLS 1.3 connection (ALPN "ntske/1",
// the server's certificate checked against [nts] trusted_ca or the system
// store, for the source's configured host name), the request of an
// nts::KeClientSession, its response, and the outcome handed to the client
// driver. One exchange per source at a time; each is bounded by kTimeout.
//
// A client handshake holds the loop for about 0.1 ms, once per source per
// key exchange (at start, then only on NTSN, lost cookies or silence), so
// it stays on the NTP loop, unlike the server's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/stream_client.hpp"
#include "io/tls_session.hpp"
#include "net/socket_address.hpp"
#include "nts/ke_client.hpp"
#include "nts/nts_client.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

struct NtsKeOutcome {
    std::optional<nts::NtsClient> client;  // set on success
    std::string ntp_host;                  // where NTP goes: the KE server's answer
    uint16_t ntp_port = 0;                 // 0: the source's own port
    std::string error;                     // on failure, one line for the log
};

class NtsKeClients {
  public:
    using DoneFn = std::function<void(uint64_t source, NtsKeOutcome outcome)>;
    static constexpr std::chrono::seconds kTimeout{10};

    NtsKeClients(const config::NtsConfig& config, io::EventLoop& loop, ntp::RandomSource& random,
                 DoneFn on_done);
    ~NtsKeClients();

    // Starts NTS-KE for @source with @server (address and KE port), the
    // certificate to be valid for @host. @clock_trusted: the clock has been
    // synchronised (certificate_time_check = "after_sync" checks validity
    // times only then). Ignored while one is running for @source.
    void start(uint64_t source, const ntp::SocketAddress& server, const std::string& host,
               bool clock_trusted);
    // Drops the exchange of @source, if any (the source went away).
    void cancel(uint64_t source);
    size_t running() const { return runs_.size(); }

  private:
    struct Run {
        std::unique_ptr<io::StreamClient> stream;
        std::unique_ptr<nts::KeClientSession> session;
        uint64_t timer = 0;
        bool finished = false;
    };

    std::shared_ptr<io::TlsContext> context(const std::string& host, bool check_time);
    void finish(uint64_t source, const std::string& tls_error);

    config::NtsConfig config_;
    io::EventLoop& loop_;
    ntp::RandomSource& random_;
    DoneFn on_done_;
    std::string trusted_pem_;  // [nts] trusted_ca, read once; empty: the system store
    std::map<std::pair<std::string, bool>, std::shared_ptr<io::TlsContext>> contexts_;
    std::map<uint64_t, std::unique_ptr<Run>> runs_;
};

}  // namespace nanotime::daemon
