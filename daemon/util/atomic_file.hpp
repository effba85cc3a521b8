// atomic_file.hpp - replace a file's contents all at once (the daemon's
// state files: NTS master keys, drift, leap seconds, run-time sources).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace nanotime::util {

// Replaces @path with @text so that a reader (or the daemon after a crash)
// finds the old file or the new one, never a mix or a truncated one: the
// text goes to a fresh temporary beside @path (same file system), is
// fsynced, renamed over @path, and the directory is fsynced so that the
// rename itself is durable. The file gets @mode (not subject to umask).
// Returns nullopt when done, else "PATH: what failed: reason" and @path is
// unchanged (the temporary is removed).
std::optional<std::string> replace_file(const std::string& path, std::string_view text,
                                        mode_t mode);

}  // namespace nanotime::util
