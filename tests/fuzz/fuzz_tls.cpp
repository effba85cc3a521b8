// Fuzz target: the TLS server side as any network peer can reach it
// (NTS-KE, the broker): bytes fed to a server TlsSession (OpenSSL 3 over
// the memory BIO pair) in chunks. The session must never hand out plaintext
// or keys before its handshake, must stay failed once failed, and must keep
// its ciphertext output bounded. The first input byte picks the chunk size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "../stream/tls_test_cert.hpp"
#include "io/tls_session.hpp"

using namespace nanotime::io;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

std::shared_ptr<TlsContext> server_context() {
    static const std::shared_ptr<TlsContext> ctx = [] {
        const testing::TestCertificate cert = testing::make_test_certificate();
        TlsServerConfig c;
        c.certificate_pem = cert.certificate_pem;
        c.private_key_pem = cert.private_key_pem;
        c.alpn = {"ntske/1"};
        return TlsContext::server(c);
    }();
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t chunk = 1 + data[0] * 4;
    std::span<const uint8_t> rest(data + 1, size - 1);
    TlsSession s(server_context());
    std::vector<uint8_t> out;
    bool failed = false;
    while (!rest.empty()) {
        const size_t n = std::min(chunk, rest.size());
        const bool ok = s.feed(rest.first(n));
        rest = rest.subspan(n);
        if (failed) check(!ok);
        failed = !ok;
        check(ok == !s.failed());
        out.clear();
        s.take_plaintext(out);
        if (!s.handshake_done()) {
            check(out.empty());
            check(!s.export_keying_material("EXPORTER-x", std::nullopt, 16));
        }
        out.clear();
        s.take_ciphertext(out);
        check(out.size() <= 64 * 1024);  // one flight of the server: a few KiB
    }
    return 0;
}
