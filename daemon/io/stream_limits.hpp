// stream_limits.hpp - the limits a stream listener enforces, as pure objects
// fed times and events: how many connections may be open, how many new ones
// one client address may open per second, how long a connection may take to
// finish its handshake and first request, and how many bytes the listener
// may hold for its connections. StreamServer (stream_server.hpp) asks them
// and carries out the answer; the tests drive them with made-up times.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>

#include "io/timer_queue.hpp"
#include "net/socket_address.hpp"

namespace nanotime::io {

struct ListenerLimits {
    size_t max_connections = 64;  // open at once; more are accepted and closed at once
    // From accept to the end of the first request, the TLS handshake
    // included; a connection that has not finished by then is closed
    // (slowloris). The application marks the end (StreamServer::request_done).
    std::chrono::milliseconds request_timeout{10'000};
    // Idle limit once requests are done: no byte received for this long closes.
    std::chrono::milliseconds idle_timeout{30'000};
    // Output queued on one connection (plaintext not yet encrypted + ciphertext
    // not yet handed to the kernel) above which the connection stops being
    // read until it drains to half (write back-pressure).
    size_t max_queued_per_connection = size_t{64} * 1024;  // bytes
    // The same summed over the listener's connections: above it no
    // connection is read and new connections are refused.
    size_t max_bytes_in_flight = size_t{4} * 1024 * 1024;  // bytes
    // New connections per client address (IPv4 address, or IPv6 address):
    // a token bucket of @address_burst refilled at @address_rate per second.
    double address_rate = 20.0;  // connections per second
    unsigned address_burst = 40;
    size_t address_table_size = 4096;  // addresses remembered (least recent forgotten first)
};

// Token bucket per client address, in a bounded table. An address pushed
// out of a full table comes back with a full bucket: the table bounds
// memory, at the price of letting a client with more than
// address_table_size addresses open more.
class AddressRateLimiter {
  public:
    AddressRateLimiter(double rate_per_second, unsigned burst, size_t table_size);
    // Takes a token for @peer's address (the port is ignored) at @now.
    bool allow(const ntp::SocketAddress& peer, MonoClock::time_point now);
    size_t tracked() const { return table_.size(); }

  private:
    struct Bucket {
        double tokens;
        MonoClock::time_point last;
        std::list<ntp::IpAddress>::iterator lru;  // position in recent_
    };
    double rate_;
    double burst_;
    size_t table_size_;
    // Ordered, not hashed: the addresses are the client's to choose.
    std::map<ntp::IpAddress, Bucket> table_;
    std::list<ntp::IpAddress> recent_;  // front: least recently seen
};

enum class Admission { Admit, TooManyConnections, AddressRateExceeded, TooManyBytesInFlight };
const char* admission_name(Admission a);

// Counts a listener's connections and bytes against its ListenerLimits.
class ConnectionGate {
  public:
    explicit ConnectionGate(const ListenerLimits& limits);
    // A connection from @peer at @now: Admit counts it (release() when it closes).
    Admission admit(const ntp::SocketAddress& peer, MonoClock::time_point now);
    void release();
    // One connection's bytes changed from @before to @after.
    void account(size_t before, size_t after);
    size_t open() const { return open_; }
    size_t bytes_in_flight() const { return bytes_; }
    bool over_byte_budget() const { return bytes_ > limits_.max_bytes_in_flight; }
    const ListenerLimits& limits() const { return limits_; }

  private:
    ListenerLimits limits_;
    AddressRateLimiter rate_;
    size_t open_ = 0;
    size_t bytes_ = 0;
};

}  // namespace nanotime::io
