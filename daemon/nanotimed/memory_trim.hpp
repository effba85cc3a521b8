// memory_trim.hpp - gives back, once start-up is over, the memory that only
// start-up used.
//
// Most of an idle nanotimed's resident set is not its own data but pages of
// shared libraries mapped while it started: OpenSSL initialising its default
// provider (the leap-seconds.list hash, the CSPRNG), the config parser, the
// seccomp compiler, the dynamic loader's relocation pass, each fault also
// mapping its neighbours (fault-around). A chronyd-sized working set lies
// underneath. trim_startup_memory() drops those mappings: clean, read-only,
// private file mappings (code and constants, never written, so nothing is
// lost; the page cache keeps the pages, and what is used again comes back
// with a minor fault), and returns free heap to the kernel (malloc_trim).
// In a read-only mapping that also holds pages copied on write (a library's
// relocated data, after RELRO), only the pages that are still the file's go,
// as /proc/self/pagemap tells them apart. Writable, shared and anonymous
// mappings are left alone.
#pragma once

#include <cstddef>

namespace nanotime::daemon {

struct TrimResult {
    size_t mappings = 0;        // file mappings whose pages were dropped
    size_t resident_kib = 0;    // their resident size before (KiB)
    bool heap_trimmed = false;  // malloc_trim gave memory back
};

// Reads /proc/self/smaps; a mapping it cannot read is skipped. Safe to call
// from any thread, at any time (a page dropped from a running function's
// code is faulted back in when it runs next).
TrimResult trim_startup_memory();

}  // namespace nanotime::daemon
