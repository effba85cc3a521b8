// uring_buffers.hpp - the io_uring backend's provided-buffer ring: the
// receive buffers that multishot recvmsg selects from (kernel >= 6.0), and
// when they are lent to the kernel.
//
// The buffers are anonymous memory that the kernel maps page by page as
// datagrams land in it (a vector would zero, and so map, all of it at once:
// 512 KiB for the default 256 buffers, which a client with a few sources
// takes hours to cycle through). The ring holds the first lent() buffers;
// the rest wait. The kernel takes buffers in ring order and each goes back
// to the end once its datagram is handled, so every buffer lent is soon
// touched: lending all of them at once would make them all resident, in a
// client too, which needs a handful. A receive that finds the ring empty
// ends with ENOBUFS (the datagrams wait in the socket); then the backend
// calls grow().
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

namespace nanotime::io {

class ProvidedBuffers {
  public:
    // The buffer group the receive SQEs name (IOSQE_BUFFER_SELECT).
    static constexpr uint16_t kGroup = 7;
    // Lent to the ring at first; grow() doubles the number.
    static constexpr unsigned kFirstLent = 16;

    ProvidedBuffers() = default;
    ProvidedBuffers(const ProvidedBuffers&) = delete;
    ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
    ~ProvidedBuffers() { release(); }

    // Maps @count buffers of @size bytes (count a power of two, at most
    // 32768), registers them with @ring as group kGroup and lends the first
    // kFirstLent. False (nothing kept) if the kernel or memory says no.
    bool setup(io_uring& ring, unsigned count, size_t size);
    bool active() const { return ring_ != nullptr; }

    uint8_t* buffer(unsigned bid) { return buffers_ + static_cast<size_t>(bid) * size_; }
    size_t buffer_size() const { return size_; }
    // Gives buffer @bid back to the ring once its datagram is handled.
    void recycle(unsigned bid);
    // After ENOBUFS: lends twice as many buffers, up to all of them. False
    // when all are lent already.
    bool grow();
    unsigned lent() const { return lent_; }

    // Unmaps the memory (the ring must be gone or no longer use it).
    void release();

  private:
    void lend(unsigned count);

    io_uring_buf_ring* ring_ = nullptr;
    size_t ring_bytes_ = 0;
    int mask_ = 0;
    uint8_t* buffers_ = nullptr;  // count_ x size_
    size_t buffers_bytes_ = 0;
    unsigned count_ = 0;
    size_t size_ = 0;
    unsigned lent_ = 0;  // buffers 0 .. lent_ - 1 are the ring's
};

}  // namespace nanotime::io
