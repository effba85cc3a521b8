// uring_ring.hpp - the io_uring backend's ring, made safe to run beside the
// seccomp filter. The filter never sees what an SQE does: an OPENAT,
// CONNECT or SOCKET submitted on a ring runs in the kernel's io_uring code,
// not through a system call. So the ring is created disabled, the backend
// registers what it needs (probe, provided-buffer ring), and then the ring
// is restricted to the opcodes the backend submits and the one SQE flag it
// sets, with no io_uring_register() operation allowed, and only then
// enabled. Restrictions arrived in Linux 5.10: an older kernel gets no ring
// (Auto then uses poll).
#pragma once

#include <liburing.h>

#include <cstdint>

#include "io/event_loop.hpp"

namespace nanotime::io {

// Every opcode the backend submits, and with it everything the ring may do.
// Polls, multishot or not, are POLL_ADD; cancels are ASYNC_CANCEL.
inline constexpr uint8_t kRingOpcodes[] = {
    IORING_OP_RECVMSG, IORING_OP_SENDMSG,        IORING_OP_RECV,
    IORING_OP_SEND,    IORING_OP_ACCEPT,         IORING_OP_POLL_ADD,
    IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE, IORING_OP_ASYNC_CANCEL,
};

// io_uring_queue_init_params with IORING_SETUP_R_DISABLED, plus the best
// task-running mode the kernel has: with @single_issuer (the thread that
// enables the ring, i.e. the constructor's, is the only one that will ever
// submit or wait) SINGLE_ISSUER|DEFER_TASKRUN (6.1), where completions are
// produced in the owner's next wait instead of by task work that interrupts
// it; otherwise, or on older kernels, SUBMIT_ALL|COOP_TASKRUN (5.19); else
// plain. Throws std::system_error.
void create_disabled_ring(io_uring& ring, unsigned entries, bool single_issuer);

// Registers the restrictions (kRingOpcodes, IOSQE_BUFFER_SELECT, no
// register ops) and enables the ring. Throws std::system_error; the caller
// still owns the ring and must io_uring_queue_exit() it.
void restrict_and_enable(io_uring& ring);

// For tests: the ring of an io_uring loop (null for any other backend), to
// submit SQEs of their own and see the forbidden ones refused.
io_uring* ring_of(EventLoop& loop);

}  // namespace nanotime::io
