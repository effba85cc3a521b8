// uring_buffers.cpp - the provided-buffer ring (see uring_buffers.hpp).
#include "io/uring_buffers.hpp"

#include <sys/mman.h>

#include <algorithm>

namespace nanotime::io {

bool ProvidedBuffers::setup(io_uring& ring, unsigned count, size_t size) {
    if (count == 0 || (count & (count - 1)) != 0 || count > 32768 || size == 0) return false;
    buffers_bytes_ = size_t{count} * size;
    void* bufs =
        mmap(nullptr, buffers_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (bufs == MAP_FAILED) return false;
    buffers_ = static_cast<uint8_t*>(bufs);
    ring_bytes_ = count * sizeof(io_uring_buf);
    void* mem =
        mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        release();
        return false;
    }
    ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = count;
    reg.bgid = kGroup;
    if (io_uring_register_buf_ring(&ring, &reg, 0) != 0) {
        release();
        return false;
    }
    io_uring_buf_ring_init(ring_);
    mask_ = io_uring_buf_ring_mask(count);
    count_ = count;
    size_ = size;
    lend(std::min(count, kFirstLent));
    return true;
}

void ProvidedBuffers::lend(unsigned count) {
    const unsigned first = lent_;
    for (unsigned i = 0; i < count; ++i) {
        io_uring_buf_ring_add(ring_, buffer(first + i), static_cast<unsigned>(size_),
                              static_cast<uint16_t>(first + i), mask_, static_cast<int>(i));
    }
    io_uring_buf_ring_advance(ring_, static_cast<int>(count));
    lent_ += count;
}

bool ProvidedBuffers::grow() {
    if (lent_ >= count_) return false;
    lend(std::min(lent_, count_ - lent_));
    return true;
}

void ProvidedBuffers::recycle(unsigned bid) {
    io_uring_buf_ring_add(ring_, buffer(bid), static_cast<unsigned>(size_),
                          static_cast<uint16_t>(bid), mask_, 0);
    io_uring_buf_ring_advance(ring_, 1);
}

void ProvidedBuffers::release() {
    if (ring_ != nullptr) munmap(ring_, ring_bytes_);
    ring_ = nullptr;
    if (buffers_ != nullptr) munmap(buffers_, buffers_bytes_);
    buffers_ = nullptr;
    lent_ = 0;
}

}  // namespace nanotime::io
