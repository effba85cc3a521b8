// openssl_init.cpp - OpenSSL initialised without openssl.cnf (see the header).
#include "util/openssl_init.hpp"

#include <openssl/crypto.h>

#include <cstdlib>

namespace nanotime::ntp {

void init_openssl_without_config() noexcept {
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 1) std::abort();
}

}  // namespace nanotime::ntp
