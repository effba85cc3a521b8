#include "nanotimed/resolver.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <system_error>

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
        ntp::IpAddress ip;
        if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(sockaddr_in)) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
            ip.family = ntp::AddressFamily::Ipv4;
            std::copy_n(reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4, ip.bytes.begin());
        } else if (a->ai_family == AF_INET6 && a->ai_addrlen >= sizeof(sockaddr_in6)) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
            ip.family = ntp::AddressFamily::Ipv6;
            std::copy_n(reinterpret_cast<const uint8_t*>(&sin6->sin6_addr), 16, ip.bytes.begin());
            ip = ip.unmapped();
        } else {
            continue;
        }
        if (seen.insert(ip).second) r.addresses.push_back(ip);
    }
    freeaddrinfo(res);
    if (r.addresses.empty()) r.error = "no usable address";
    return r;
}

Resolver::Resolver(io::EventLoop& loop, ResultFn on_result, LookupFn lookup)
    : loop_(loop), on_result_(std::move(on_result)), lookup_(std::move(lookup)) {
    // The wake-up channel is made now, before the seccomp filter (which
    // does not allow socketpair); only the thread starts later.
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw std::system_error(errno, std::generic_category(), "resolver socketpair");
    }
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    // No close callback: the stream closes only when this object goes away.
    stream_ = loop_.add_stream(
        wake_read_, [this](uint64_t, std::span<const uint8_t>) { deliver(); }, nullptr);
}

Resolver::~Resolver() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (stream_ != 0) loop_.close_stream(stream_, false);
    if (wake_write_ >= 0) close(wake_write_);
}

void Resolver::start() {
    if (worker_.joinable()) return;
    worker_ = std::thread([this] { run(); });
}

void Resolver::resolve(uint64_t tag, const std::string& host) {
    if (auto ip = ntp::IpAddress::parse(host)) {
        // No DNS needed, but still answer asynchronously, like a lookup.
        Resolution r;
        r.tag = tag;
        r.host = host;
        r.addresses.push_back(*ip);
        loop_.add_timer_after(std::chrono::nanoseconds(0), [this, r] { on_result_(r); });
        return;
    }
    start();
    {
        std::lock_guard lock(mutex_);
        requests_.emplace_back(tag, host);
    }
    cv_.notify_one();
}

size_t Resolver::pending() const {
    std::lock_guard lock(mutex_);
    return requests_.size() + running_ + results_.size();
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
