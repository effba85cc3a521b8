// resolver.hpp - host name resolution off the event loop.
//
// getaddrinfo() blocks for as long as the resolver's timeouts allow (seconds
// per attempt), which would freeze every source and the server. One worker
// thread does the lookups; results come back to the loop through a socket
// pair registered as a stream, so the callback runs on the loop's thread like
// every other event. Numeric addresses are answered on the loop's thread
// (from a zero-delay timer), without DNS, the thread or the socket pair.
//
// The socket pair and the thread are made with the first lookup that needs
// DNS, not before: a daemon whose sources are all IP addresses has neither
// (one descriptor fewer to wait on; and under clknetsim, whose poll() reports
// a descriptor it does not simulate as always readable, such a pair would
// keep the loop from ever waiting). That lookup comes after the privilege
// drop and the seccomp filter: the thread inherits the dropped capabilities
// (which are per thread) and the filter, which allows clone only with
// CLONE_THREAD and socketpair only for AF_UNIX (see hardening.cpp).
//
// Where the pair cannot be had, or the loop cannot wait on it
// (EventLoop::waits_on_foreign_fds), names are looked up on the loop's thread
// from a zero-delay timer, blocking the loop for the lookup; the loop's
// fallback log says so once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/event_loop.hpp"
#include "net/socket_address.hpp"

namespace nanotime::daemon {

struct Resolution {
    uint64_t tag = 0;  // the caller's, passed to resolve()
    std::string host;
    std::vector<ntp::IpAddress> addresses;  // unique, in resolver order; empty on failure
    std::string error;                      // gai_strerror text when addresses is empty
    // The IPv6 zone (interface index) a scoped name such as "fe80::1%eth0"
    // gave; 0 for none.
    uint32_t scope_id = 0;
};

// The lookup itself (getaddrinfo, AF_UNSPEC, AI_ADDRCONFIG); replaceable in tests.
using LookupFn = std::function<Resolution(const std::string& host)>;
Resolution lookup_host(const std::string& host);

class Resolver {
  public:
    using ResultFn = std::function<void(const Resolution&)>;

    // Makes nothing yet: no socket pair, no thread.
    Resolver(io::EventLoop& loop, ResultFn on_result, LookupFn lookup = lookup_host);
    ~Resolver();  // waits for a lookup in progress to finish; undelivered answers are dropped
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Makes the socket pair and starts the worker thread; idempotent
    // (resolve() calls it for the first host name). False when lookups are
    // made on the loop's thread instead (see above).
    bool start();
    bool started() const { return worker_.joinable(); }
    // Lookups of host names are made on the loop's thread (no pair or thread to be had).
    bool looks_up_inline() const { return inline_; }
    // Queues a lookup; the result arrives through on_result on the loop's
    // thread, never from inside this call. Numeric addresses skip the worker.
    void resolve(uint64_t tag, const std::string& host);
    // Lookups queued or running, and answers not yet delivered (call it on the loop's thread).
    size_t pending() const;

  private:
    void run();
    void wake_loop();
    void deliver();
    // Answers on the loop's thread from a zero-delay timer (cancelled if we go first).
    void answer_later(Resolution r);

    io::EventLoop& loop_;
    ResultFn on_result_;
    LookupFn lookup_;
    int wake_read_ = -1;   // owned by the loop once registered
    int wake_write_ = -1;  // the worker writes one byte per result
    uint64_t stream_ = 0;
    std::thread worker_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::pair<uint64_t, std::string>> requests_;
    std::deque<Resolution> results_;
    size_t running_ = 0;
    bool stopping_ = false;
    bool inline_ = false;                  // lookups on the loop's thread
    std::map<uint64_t, uint64_t> timers_;  // answer_later(): key -> loop timer, until it fires
    uint64_t next_timer_key_ = 1;
};

}  // namespace nanotime::daemon
