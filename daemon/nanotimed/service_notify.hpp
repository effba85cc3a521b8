// service_notify.hpp - telling systemd how the daemon is doing, without
// libsystemd.
//
// The sd_notify(3) protocol: one datagram per message ("READY=1",
// "STATUS=...", "WATCHDOG=1", "STOPPING=1", newline-separated when several)
// to the AF_UNIX socket named in $NOTIFY_SOCKET, a path or, with a leading
// '@', an abstract name. systemd documents it as a stable interface and
// gives a standalone implementation in sd_notify(3) for services that do not
// link libsystemd. nanotimed does the same: for these three calls
// libsystemd.so loaded five more libraries (libgcrypt, libgpg-error,
// liblzma, libzstd, liblz4), about 1 MiB of the daemon's resident set.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace nanotime::daemon {

// Sends @state; false when $NOTIFY_SOCKET is unset or unusable (not started
// by systemd with Type=notify) or the datagram cannot be sent. The system
// calls are libsystemd's (socket, sendto, close: all on the seccomp
// allow-list).
bool notify_service_manager(const std::string& state);

// How often systemd wants "WATCHDOG=1" at the latest, as
// sd_watchdog_enabled(3) reads it: $WATCHDOG_USEC, a positive integer, and
// $WATCHDOG_PID, when set, naming this process. nullopt: no watchdog.
std::optional<std::chrono::microseconds> service_watchdog_interval();

}  // namespace nanotime::daemon
