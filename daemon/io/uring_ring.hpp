// uring_ring.hpp - reaching the io_uring backend's ring from outside it.
//
// For tests only (not installed, not used by the daemon): a test submits
// SQEs of its own on the ring a loop made, to check that the ring refuses
// every opcode the backend does not use (uring_loop.cpp, restrict_and_enable).
#pragma once

#include <liburing.h>

#include "io/event_loop.hpp"

namespace nanotime::io {

// The ring of an io_uring loop; null for any other backend.
io_uring* ring_of(EventLoop& loop);

}  // namespace nanotime::io
