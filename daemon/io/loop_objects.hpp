// loop_objects.hpp - what the event loop keeps for each UDP socket,
// listener, stream connection and watched descriptor, and the queue of
// outgoing datagrams. Private to daemon/io: the base class (event_loop.cpp,
// streams.cpp) and the two backends (uring_loop.cpp, poll_loop.cpp) share
// these; nothing outside the loop sees them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "io/event_loop.hpp"

namespace nanotime::io {

// The bytes of one outgoing datagram. Up to kInline octets live in the
// object itself, so queuing a reply (48 octets of NTP header, or a few
// extension fields) costs no heap allocation; longer ones (NTS, later)
// use a heap buffer whose capacity is kept for the next datagram, so a
// reused object stops allocating once it has seen the largest size.
class DatagramBytes {
  public:
    static constexpr size_t kInline = 256;  // octets

    void assign(std::span<const uint8_t> data) {
        size_ = data.size();
        if (size_ <= kInline) {
            std::copy(data.begin(), data.end(), inline_.begin());
        } else {
            heap_.assign(data.begin(), data.end());
        }
    }
    uint8_t* data() { return size_ <= kInline ? inline_.data() : heap_.data(); }
    size_t size() const { return size_; }
    std::span<const uint8_t> bytes() const {
        return {size_ <= kInline ? inline_.data() : heap_.data(), size_};
    }

  private:
    size_t size_ = 0;
    std::vector<uint8_t> heap_;  // holds the bytes when size_ > kInline
    std::array<uint8_t, kInline> inline_;
};
struct PendingSend {
    ntp::SocketAddress to;
    std::optional<ntp::SocketAddress> from;  // none: the socket's own address
    DatagramBytes data;
    uint64_t token = 0;
    bool tx_stamp = false;  // ask the kernel to stamp it (tx_timestamps_on_request)
};
// FIFO of PendingSend in a ring of slots that are reused, not freed:
// push_back() hands out the oldest free slot (with whatever heap buffer it
// kept), so a steady stream of replies allocates nothing. The ring only
// grows (doubling, when a burst outruns the kernel); its size is the
// longest queue the socket has had.
class SendQueue {
  public:
    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    PendingSend& operator[](size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
    PendingSend& front() { return slots_[head_]; }
    PendingSend& back() { return (*this)[count_ - 1]; }
    // A slot at the back, for the caller to fill in (every field).
    PendingSend& push_back();
    void pop_front() {
        head_ = (head_ + 1) & (slots_.size() - 1);
        --count_;
    }
    void clear() { head_ = count_ = 0; }

  private:
    std::vector<PendingSend> slots_;  // size 0 or a power of two
    size_t head_ = 0;
    size_t count_ = 0;
};
struct UdpSock {
    uint64_t id = 0;
    int fd = -1;
    UdpOptions options;
    UdpReceiveFn on_receive;
    TxTimestampFn on_tx;
    SendQueue queue;        // not yet handed to the kernel
    uint32_t next_key = 0;  // SOF_TIMESTAMPING_OPT_ID of the next datagram
    std::deque<std::pair<uint32_t, uint64_t>> tx_waiting;        // kernel key -> token
    std::deque<std::pair<uint32_t, PacketTimestamps>> tx_early;  // stamped before we knew
    bool closing = false;
    int inflight = 0;  // backend operations not yet completed
    // SO_TIMESTAMPNS, the stamp for datagrams that beat the kernel's
    // timestamp switch (udp_socket.cpp), is on until this time.
    bool rx_stamp_bridge = false;
    MonoClock::time_point rx_stamp_bridge_until{};
    // Backend scratch (single-shot receive buffer, poll batches).
    std::vector<uint8_t> rx_buffer;
};
struct Listener {
    uint64_t id = 0;
    int fd = -1;
    AcceptFn on_accept;
    bool closing = false;
    int inflight = 0;
};
struct Conn {
    uint64_t id = 0;
    int fd = -1;
    StreamDataFn on_data;
    StreamCloseFn on_close;
    ConnectFn on_connected;                // connect_stream() only
    std::deque<std::vector<uint8_t>> out;  // front is being written
    size_t out_offset = 0;                 // bytes of out.front() already written
    size_t out_bytes = 0;                  // sum of the sizes of the chunks in out
    size_t output_cap = 0;                 // set_stream_output_cap(); 0: none
    bool over_cap = false;    // more than output_cap queued: not read until half drained
    bool connecting = false;  // connect_stream(): not connected yet (no recv, no send)
    bool closing = false;     // close requested / peer closed
    bool close_when_flushed = false;
    bool writing = false;  // io_uring: a send is in flight
    bool reading = false;  // io_uring: a receive is in flight
    bool paused = false;   // pause_stream(): no new receive until resume_stream()
    StreamDrainedFn on_drained;
    int inflight = 0;
    std::vector<uint8_t> in_buffer;

    // Bytes queued and not yet handed to the kernel.
    size_t queued() const { return out_bytes - out_offset; }
    // Should a receive be armed (or POLLIN asked for)? Not while paused by
    // the owner, over the output cap, or not yet connected.
    bool wants_read() const { return !paused && !over_cap && !connecting; }
    void queue_output(std::span<const uint8_t> data) {
        out.emplace_back(data.begin(), data.end());
        out_bytes += data.size();
    }
    // @n more bytes of the front chunk(s) reached the kernel.
    void consumed(size_t n) {
        out_offset += n;
        while (!out.empty() && out_offset >= out.front().size()) {
            out_offset -= out.front().size();
            out_bytes -= out.front().size();
            out.pop_front();
        }
    }
    void drop_output() {
        out.clear();
        out_bytes = out_offset = 0;
    }
};
struct FdWatch {
    uint64_t id = 0;
    int fd = -1;  // not ours: never closed by the loop
    ReadableFn on_readable;
    bool closing = false;  // unwatch_fd() was called: on_readable never runs again
    bool failed = false;   // the kernel cannot poll fd (EBADF, POLLNVAL): stopped
    int inflight = 0;
};

}  // namespace nanotime::io
