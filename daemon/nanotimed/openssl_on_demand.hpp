// openssl_on_demand.hpp - libssl and libcrypto loaded by nanotimed only when
// something uses them (TLS and AES-SIV for NTS, SipHash for the server's
// rate limiter), not at start-up by the dynamic linker.
//
// Why: merely loading libcrypto.so.3 and libssl.so.3 costs about 1.7 MiB of
// resident set and 460 KiB of private dirty memory (the dynamic linker
// relocating their data), more than a plain NTP client needs in all
// (tests/bench/README.md, "Client memory"). A client that neither serves
// nor uses NTS never calls OpenSSL, so the nanotimed binary is linked
// without them: openssl_on_demand.cpp defines each OpenSSL function the
// daemon calls (the same declarations as OpenSSL's headers, which the
// compiler checks) as a forwarder that dlopen()s the libraries at its first
// call and jumps to the real function. The unit tests link OpenSSL as usual.
//
// The first call loads libssl.so.3 (and libcrypto.so.3 with it), then
// starts OpenSSL without openssl.cnf (util/openssl_init.hpp says why) before
// anything else reaches it. nanotimed loads it before its seccomp filter
// when the configuration serves or uses NTS; a source with NTS added later
// by a reload loads it under the filter, whose allow-list has what dlopen
// needs (openat, fstat, read, mmap, mprotect, close).
#pragma once

namespace nanotime::daemon {

// Loads libssl and libcrypto and starts OpenSSL without its configuration
// file; idempotent and thread-safe. Throws std::runtime_error naming the
// library and dlerror()'s reason when either cannot be loaded.
void load_openssl();

// Whether load_openssl() has succeeded in this process.
bool openssl_loaded() noexcept;

}  // namespace nanotime::daemon
