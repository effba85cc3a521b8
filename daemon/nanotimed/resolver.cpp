// resolver.cpp - host name resolution off the event loop (see resolver.hpp).
#include "nanotimed/resolver.hpp"

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>

#include "io/sockaddr.hpp"
#include "io/syscalls.hpp"

namespace nanotime::daemon {

Resolution lookup_host(const std::string& host) {
    Resolution r;
    r.host = host;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        r.error = gai_strerror(rc);
        return r;
    }
    std::set<ntp::IpAddress> seen;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        // The one sockaddr -> address conversion (io/sockaddr.hpp); other
        // families give nothing.
        const std::optional<ntp::SocketAddress> address =
            io::from_sockaddr(a->ai_addr, a->ai_addrlen);
        if (!address) continue;
        if (seen.insert(address->ip).second) r.addresses.push_back(address->ip);
        if (r.scope_id == 0) r.scope_id = address->scope_id;
    }
    freeaddrinfo(res);
    if (r.addresses.empty()) r.error = "no usable address";
    return r;
}

Resolver::Resolver(io::EventLoop& loop, ResultFn on_result, LookupFn lookup)
    : loop_(loop), on_result_(std::move(on_result)), lookup_(std::move(lookup)) {}

Resolver::~Resolver() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    for (const auto& [key, timer] : timers_) loop_.cancel_timer(timer);
    if (stream_ != 0) loop_.close_stream(stream_, false);
    if (wake_write_ >= 0) close(wake_write_);
}

bool Resolver::start() {
    if (worker_.joinable()) return true;
    if (inline_) return false;
    if (!loop_.waits_on_foreign_fds()) {
        inline_ = true;
        loop_.note_fallback(
            "resolver: the event loop cannot wait on a socket pair; host names are looked up "
            "on the loop's thread");
        return false;
    }
    int fds[2];
    if (io::open_socketpair(loop_.syscalls(), AF_UNIX, SOCK_STREAM, fds) != 0) {
        inline_ = true;
        loop_.note_fallback(std::string("resolver: socketpair: ") + std::strerror(errno) +
                            "; host names are looked up on the loop's thread");
        return false;
    }
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    // No close callback: the stream closes only when this object goes away.
    stream_ = loop_.add_stream(
        wake_read_, [this](uint64_t, std::span<const uint8_t>) { deliver(); }, nullptr);
    // The worker blocks every signal, so that a signal the loop catches with
    // a handler (no signalfd) interrupts the loop's thread, not this one.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    worker_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return true;
}

void Resolver::answer_later(Resolution r) {
    const uint64_t key = next_timer_key_++;
    timers_[key] =
        loop_.add_timer_after(std::chrono::nanoseconds(0), [this, key, r = std::move(r)] {
            timers_.erase(key);
            on_result_(r);
        });
}

void Resolver::resolve(uint64_t tag, const std::string& host) {
    if (auto ip = ntp::IpAddress::parse(host)) {
        // No DNS needed, but still answer asynchronously, like a lookup.
        Resolution r;
        r.tag = tag;
        r.host = host;
        r.addresses.push_back(*ip);
        answer_later(std::move(r));
        return;
    }
    if (!start()) {
        // On the loop's thread, but still never from inside this call.
        const uint64_t key = next_timer_key_++;
        timers_[key] = loop_.add_timer_after(std::chrono::nanoseconds(0), [this, key, tag, host] {
            timers_.erase(key);
            Resolution r = lookup_(host);
            r.tag = tag;
            r.host = host;
            on_result_(r);
        });
        return;
    }
    {
        std::lock_guard lock(mutex_);
        requests_.emplace_back(tag, host);
    }
    cv_.notify_one();
}

size_t Resolver::pending() const {
    std::lock_guard lock(mutex_);
    return requests_.size() + running_ + results_.size() + timers_.size();
}

void Resolver::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        cv_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
        if (stopping_) return;
        auto [tag, host] = std::move(requests_.front());
        requests_.pop_front();
        ++running_;
        lock.unlock();
        Resolution r = lookup_(host);
        r.tag = tag;
        r.host = host;
        lock.lock();
        --running_;
        results_.push_back(std::move(r));
        lock.unlock();
        wake_loop();
        lock.lock();
    }
}

void Resolver::wake_loop() {
    const uint8_t byte = 1;
    // A full socket buffer means the loop has wake-ups pending anyway.
    while (send(wake_write_, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

void Resolver::deliver() {
    std::deque<Resolution> ready;
    {
        std::lock_guard lock(mutex_);
        ready.swap(results_);
    }
    for (const Resolution& r : ready) on_result_(r);
}

}  // namespace nanotime::daemon
