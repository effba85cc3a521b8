// uring_ring.cpp - creating, restricting and enabling the io_uring
// backend's ring (see uring_ring.hpp).
#include "io/uring_ring.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace nanotime::io {
namespace {

// Straight through io_uring_register(2): Debian 12's liburing 2.3 declares
// io_uring_register_restrictions() and io_uring_enable_rings() but its
// shared library does not export them.
int register_ring(io_uring& ring, unsigned opcode, const void* arg, unsigned count) {
    return static_cast<int>(syscall(__NR_io_uring_register, ring.ring_fd, opcode, arg, count));
}

}  // namespace

void create_disabled_ring(io_uring& ring, unsigned entries, bool single_issuer) {
    // Best first: completions deferred to the owner's next wait (6.1), then
    // cooperative task running (5.19), then a plain ring. Each step down is
    // a kernel that refuses the flags (EINVAL).
    constexpr unsigned kCoop = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    constexpr unsigned kDefer = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    std::vector<unsigned> attempts;
    if (single_issuer) attempts.push_back(kDefer | IORING_SETUP_SUBMIT_ALL);
    attempts.push_back(kCoop);
    attempts.push_back(0);
    int ret = -EINVAL;
    for (const unsigned flags : attempts) {
        io_uring_params params{};
        params.flags = flags | IORING_SETUP_R_DISABLED;
        ret = io_uring_queue_init_params(entries, &ring, &params);
        if (ret != -EINVAL) break;
    }
    if (ret < 0) throw std::system_error(-ret, std::generic_category(), "io_uring_queue_init");
}

void restrict_and_enable(io_uring& ring) {
    std::vector<io_uring_restriction> allowed;
    for (const uint8_t op : kRingOpcodes) {
        io_uring_restriction r{};
        r.opcode = IORING_RESTRICTION_SQE_OP;
        r.sqe_op = op;
        allowed.push_back(r);
    }
    io_uring_restriction flags{};
    flags.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    flags.sqe_flags = IOSQE_BUFFER_SELECT;
    allowed.push_back(flags);
    // No IORING_RESTRICTION_REGISTER_OP entry: no register op at all.
    if (register_ring(ring, IORING_REGISTER_RESTRICTIONS, allowed.data(),
                      static_cast<unsigned>(allowed.size())) != 0) {
        throw std::system_error(errno, std::generic_category(),
                                "io_uring_register(IORING_REGISTER_RESTRICTIONS)");
    }
    if (register_ring(ring, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) {
        throw std::system_error(errno, std::generic_category(),
                                "io_uring_register(IORING_REGISTER_ENABLE_RINGS)");
    }
}

}  // namespace nanotime::io
