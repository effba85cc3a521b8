// nts_ke_service.hpp - nanotimed's NTS-KE server (RFC 8915 §4): TLS 1.3
// listeners (ALPN "ntske/1", port 4460) on a thread and event loop of their
// own, one nts::KeServerSession per connection, cookies sealed with the
// current master key (SharedKeyStore).
//
// Why a thread: a full TLS handshake holds a loop for 0.1-0.2 ms, and a
// flood of them on the NTP loop multiplies NTP reply latency
// (tests/bench/README.md, the stream seam). On its own loop the handshakes
// only compete for a core.
//
// Limits (from [nts_ke], enforced by io::StreamServer): connections open at
// once, accept-to-response deadline (handshake included), new connections
// per client address, request size (the session's decoder), bytes queued.
//
// NTS pool (time-source side, [nts_ke] pool_ca): the listeners ask every
// client for a certificate without requiring one; a session learns whether
// its peer's chains to pool_ca (nts::PoolPeer) and is given the tokens
// (pool_tokens + pool_token_file, read at start). Keep Alive sessions are
// capped at pool_max_sessions open at once; their idle limit is
// pool_idle_timeout (the listener's idle limit, which only kept-alive
// sessions ever reach: others close after their one response).
//
// Life cycle as ServerWorkers: the constructor (privileged, before seccomp)
// reads the certificate and key, opens the listeners and makes the loop;
// start() (after privilege drop and seccomp) runs the thread; the
// destructor stops and joins it. reload_certificate() re-reads the PEM
// files (SIGHUP): new connections use the new pair, a pair that does not
// load leaves the old one in place; the NTP server is not touched.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "io/event_loop.hpp"
#include "io/log.hpp"
#include "io/tls_session.hpp"
#include "nanotimed/nts_key_manager.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

// What the KE server did, for nanotimectl serverstats.
struct NtsKeCounters {
    uint64_t accepted = 0;               // connections admitted
    uint64_t keys_issued = 0;            // NTPv4 + AEAD agreed, cookies sent
    uint64_t no_common_protocol = 0;     // the client offered no NTPv4
    uint64_t no_common_aead = 0;         // no AEAD in common
    uint64_t bad_request = 0;            // Error 1 (malformed, oversize, ...)
    uint64_t unrecognized_critical = 0;  // Error 0
    uint64_t internal_error = 0;         // Error 2 (no sealing key, exporter)
    uint64_t tls_failed = 0;             // handshake or record errors (wrong ALPN too)
    uint64_t timed_out = 0;              // deadline passed before the response
    uint64_t refused = 0;                // at accept: too many, rate, bytes in flight
    uint64_t certificate_reloads = 0;
    // The NTS pool's time-source side ([nts_ke] pool_ca; daemon/nts/README.md).
    bool pool = false;                         // the role is on
    uint64_t pool_support_served = 0;          // Supported list requests answered
    uint64_t pool_fixed_key_served = 0;        // Fixed Key Requests answered with cookies
    uint64_t pool_refused_no_certificate = 0;  // pool records without a client certificate
    uint64_t pool_refused_certificate = 0;     // ... with one not from pool_ca
    uint64_t pool_refused_token = 0;           // token missing or not configured
    uint64_t pool_refused_malformed = 0;       // mixed records, key length, ...
    uint64_t pool_refused_protocol = 0;        // fixed key for a protocol other than NTPv4
    uint64_t pool_refused_aead = 0;            // fixed key for an AEAD we do not use
    uint64_t pool_refused_internal = 0;        // cookie making failed
    uint64_t pool_keep_alive_sessions = 0;     // sessions admitted to Keep Alive
    uint64_t pool_keep_alive_refused = 0;      // asked while pool_max_sessions were open
    uint64_t pool_keep_alive_open = 0;         // open now
    uint64_t server_deny = 0;                  // NTP Server Deny records received
};

class NtsKeService {
  public:
    using UnixNow = std::function<int64_t()>;

    // Throws std::runtime_error naming the file or address that failed.
    NtsKeService(const config::NtsKeServerConfig& config, const io::LoopOptions& loop_options,
                 SharedKeyStore& keys, ntp::RandomSource& random, io::RateLimitedLog& log,
                 UnixNow now);
    ~NtsKeService();
    NtsKeService(const NtsKeService&) = delete;
    NtsKeService& operator=(const NtsKeService&) = delete;

    void start();
    // Main thread. Nothing on success, else why (the old pair stays).
    std::optional<std::string> reload_certificate();
    NtsKeCounters counters() const;

    struct Worker;  // the KE thread's state (nts_ke_service.cpp)

  private:
    config::NtsKeServerConfig config_;
    std::unique_ptr<Worker> worker_;
};

// The server's TLS context from the PEM files of @config (ALPN ntske/1;
// with pool_ca, client certificates asked for and checked against it).
// Throws std::runtime_error naming the file and the reason.
std::shared_ptr<io::TlsContext> load_nts_ke_tls(const config::NtsKeServerConfig& config);

// pool_tokens and the tokens of pool_token_file. Throws std::runtime_error
// "nts_ke: pool_token_file <path>: line <n>: <reason>" (or why unreadable).
std::vector<std::string> load_pool_tokens(const config::NtsKeServerConfig& config);

}  // namespace nanotime::daemon
