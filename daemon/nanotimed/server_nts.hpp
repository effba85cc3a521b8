// server_nts.hpp - one NTP server thread's NTS (RFC 8915 §5): its
// nts::NtsServer, kept on the newest master key set, which the thread
// checks before each request (one atomic load; the set is swapped in only
// when the key manager published a new one).
#pragma once

#include <cstdint>
#include <stdexcept>

#include "nanotimed/nts_key_manager.hpp"
#include "nts/nts_server.hpp"
#include "server/ntp_server.hpp"
#include "util/random.hpp"

namespace nanotime::daemon {

// @total += @c, field by field (the server threads' counters summed).
inline void add_counters(nts::NtsServerCounters& total, const nts::NtsServerCounters& c) {
    total.authentic += c.authentic;
    total.nak += c.nak;
    total.malformed += c.malformed;
    total.missing_field += c.missing_field;
    total.auth_failed += c.auth_failed;
    total.no_sealing_key += c.no_sealing_key;
    total.crypto_failure += c.crypto_failure;
    total.cookie_unknown_key += c.cookie_unknown_key;
    total.cookie_auth_failed += c.cookie_auth_failed;
    total.cookie_bad_contents += c.cookie_bad_contents;
}

class ServerNts {
  public:
    // Throws std::runtime_error when OpenSSL has no AES-SIV.
    ServerNts(SharedKeyStore& keys, ntp::RandomSource& random)
        : keys_(keys), nts_(make(keys, random, seen_)) {}

    // @server answers NTS requests through this object from now on.
    void attach(ntp::NtpServer& server) { server.enable_nts(nts_); }
    // Before each request: the newest key set, if it changed.
    void refresh() {
        if (auto newer = keys_.get_if_newer(seen_)) nts_.set_key_store(std::move(newer));
    }
    const nts::NtsServerCounters& counters() const { return nts_.counters(); }

  private:
    static nts::NtsServer make(const SharedKeyStore& keys, ntp::RandomSource& random,
                               uint64_t& seen) {
        seen = keys.generation();
        auto made = nts::NtsServer::create(keys.get(), random);
        if (!made) throw std::runtime_error("NTS: AES-SIV-CMAC-256 is not available in OpenSSL");
        return std::move(*made);
    }

    SharedKeyStore& keys_;
    uint64_t seen_ = 0;
    nts::NtsServer nts_;
};

}  // namespace nanotime::daemon
