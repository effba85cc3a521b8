// openssl_init.hpp - how nanotime starts OpenSSL: without openssl.cnf.
//
// The daemon asks OpenSSL for nothing a configuration file could supply:
// its digests and SipHash come from the built-in default provider, its TLS
// is pinned to 1.3 with its own settings. Reading the system's openssl.cnf
// would cost memory (about 0.6 MiB of resident set for parsing it and the
// modules it names) and, worse, would happen at the first fetch, which is
// lazy and can come after the seccomp filter is installed: a provider or
// engine named there would be dlopen()ed under the filter. Without the file
// a first fetch makes no system call but futex (and brk/mmap for memory),
// which the allow-list has.
#pragma once

namespace nanotime::ntp {

// OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG): idempotent, cheap after
// the first call. It must come before any other use of OpenSSL in the
// process (the configuration step runs once, for whichever call is first):
// in nanotimed, the loader that brings libcrypto in on demand
// (nanotimed/openssl_on_demand.hpp) makes this call before any other; the
// lazy fetches call it too, for the tests and tools linked to OpenSSL.
void init_openssl_without_config() noexcept;

}  // namespace nanotime::ntp
