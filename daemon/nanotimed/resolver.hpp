// resolver.hpp - host name resolution off the event loop.
//
// getaddrinfo() blocks for as long as the resolver's timeouts allow (seconds
// per attempt), which would freeze every source and the server. One worker
// thread does the lookups; results come back to the loop through a socket
// pair registered as a stream, so the callback runs on the loop's thread like
// every other event. Numeric addresses are answered at once, without DNS.
//
// The thread starts with the first lookup that needs DNS, which the daemon
// makes after the privilege drop and the seccomp filter: it inherits the
// dropped capabilities (which are per thread) and the filter, which allows
// clone only with CLONE_THREAD (see hardening.cpp).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
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
};

// The lookup itself (getaddrinfo, AF_UNSPEC, AI_ADDRCONFIG); replaceable in tests.
using LookupFn = std::function<Resolution(const std::string& host)>;
Resolution lookup_host(const std::string& host);

class Resolver {
  public:
    using ResultFn = std::function<void(const Resolution&)>;

    // Makes the wake-up socket pair (throws std::system_error); no thread yet.
    Resolver(io::EventLoop& loop, ResultFn on_result, LookupFn lookup = lookup_host);
    ~Resolver();  // waits for a lookup in progress to finish
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Starts the worker thread; idempotent (resolve() calls it when needed).
    void start();
    bool started() const { return worker_.joinable(); }
    // Queues a lookup; the result arrives through on_result on the loop's
    // thread, never from inside this call. Numeric addresses skip the worker.
    void resolve(uint64_t tag, const std::string& host);
    // Lookups queued or running.
    size_t pending() const;

  private:
    void run();
    void wake_loop();
    void deliver();

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
};

}  // namespace nanotime::daemon
