// udp_socket.hpp - making a UDP socket as UdpOptions asks: address family,
// SO_REUSEPORT, pktinfo, kernel RX/TX timestamps (with the fallbacks some
// kernels and emulations need), bound. The event loop registers the result.
#pragma once

#include <functional>
#include <string>

#include "io/event_loop.hpp"
#include "io/syscalls.hpp"

namespace nanotime::io {

// Returns the bound, non-blocking socket. @options is updated to what the
// socket really got (timestamps or pktinfo the kernel refused are turned
// off); every such fallback is reported through @note_fallback. Throws
// std::system_error when the socket cannot be made or bound.
int open_udp_socket(const Syscalls& sys, UdpOptions& options,
                    const std::function<void(const std::string&)>& note_fallback);

}  // namespace nanotime::io
