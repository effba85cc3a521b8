// bench_tls_handshake - the server's CPU per full TLS 1.3 handshake through
// io::TlsSession (memory BIOs, no sockets): what one NTS-KE exchange costs in
// OpenSSL before the kernel's TCP work. Each iteration is one connection: a
// new client session (OpenSSL's default offer: X25519 key share) and server
// session, the ClientHello, the server's flight, the client's Finished, a
// 100-octet request and 1 KiB response (an NTS-KE exchange's sizes), the
// server's close_notify, both sessions freed. Only the server's calls are
// timed (this thread's CPU time, manual timing); the client's work runs on
// another thread.
// allocs/iter counts the heap allocations of the server's calls.
// Run from a Release build: build/rel/tests/bench/bench_tls_handshake.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <time.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "io/tls_session.hpp"
#include "tls_test_cert.hpp"

namespace {

std::atomic<uint64_t> g_allocations{0};

}  // namespace

// Every heap allocation goes through malloc/calloc/realloc: counted by
// interposing glibc's (this binary only), as bench_nts does.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* malloc(size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_realloc(p, size);
}
}

namespace {

using namespace nanotime::io;

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Accumulates the CPU time and allocations of the server's calls only.
class ServerMeter {
  public:
    template <typename Fn>
    void run(Fn fn) {
        const uint64_t a0 = g_allocations.load(std::memory_order_relaxed);
        const double t0 = thread_cpu_seconds();
        fn();
        seconds_ += thread_cpu_seconds() - t0;
        allocations_ += g_allocations.load(std::memory_order_relaxed) - a0;
    }
    double take_seconds() {
        const double s = seconds_;
        seconds_ = 0;
        return s;
    }
    uint64_t allocations() const { return allocations_; }

  private:
    double seconds_ = 0;
    uint64_t allocations_ = 0;
};

// The client's side of the exchange runs on a thread of its own, so that a
// profile of this thread (perf report --tid) shows the server alone.
template <typename Fn>
void on_client_thread(Fn fn) {
    std::thread(fn).join();
}

void BM_ServerFullHandshake(benchmark::State& state) {
    const testing::TestCertificate cert = testing::make_test_certificate("localhost");
    TlsServerConfig sc{cert.certificate_pem, cert.private_key_pem, {"ntske/1"}, {}};
    const auto server_ctx = TlsContext::server(sc);
    TlsClientConfig cc;
    cc.trusted_pem = cert.certificate_pem;
    cc.server_name = "localhost";
    cc.alpn = {"ntske/1"};
    const auto client_ctx = TlsContext::client(cc);
    const std::vector<uint8_t> request(100, 0x42);
    const std::vector<uint8_t> response(1024, 0x24);
    std::vector<uint8_t> wire;
    std::vector<uint8_t> plain;
    ServerMeter meter;
    for (auto _ : state) {
        std::unique_ptr<TlsSession> client;
        on_client_thread([&] {
            client = std::make_unique<TlsSession>(client_ctx);
            wire.clear();
            client->take_ciphertext(wire);  // ClientHello
        });
        std::unique_ptr<TlsSession> server;
        meter.run([&] {
            server = std::make_unique<TlsSession>(server_ctx);
            server->feed(wire);
            wire.clear();
            server->take_ciphertext(wire);
        });
        on_client_thread([&] {
            client->feed(wire);
            client->write(request);
            wire.clear();
            client->take_ciphertext(wire);  // Finished + request
        });
        meter.run([&] {
            server->feed(wire);
            plain.clear();
            server->take_plaintext(plain);
            server->write(response);
            server->close();
            wire.clear();
            server->take_ciphertext(wire);
        });
        on_client_thread([&] {
            client->feed(wire);
            plain.clear();
            client->take_plaintext(plain);
            client.reset();
        });
        if (!server->handshake_done() || plain.size() != response.size()) {
            state.SkipWithError("the exchange did not complete");
            break;
        }
        meter.run([&] { server.reset(); });
        state.SetIterationTime(meter.take_seconds());
    }
    state.counters["allocs/iter"] = benchmark::Counter(static_cast<double>(meter.allocations()),
                                                       benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ServerFullHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The floor: the public-key operations a server does per full handshake,
// through the EVP calls libssl makes (key share: keygen + derive; the
// CertificateVerify signature over a transcript hash), one by one.
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr generate_like(EVP_PKEY* params_or_key) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, params_or_key, nullptr);
    EVP_PKEY* k = nullptr;
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_generate(ctx, &k) != 1)
        k = nullptr;
    EVP_PKEY_CTX_free(ctx);
    return PkeyPtr(k);
}

PkeyPtr key_of_group(int64_t group) {
    return PkeyPtr(group == 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")
                              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

// Arg 0: X25519, 1: P-256 (ECDH).
void BM_KeyShareGenerate(benchmark::State& state) {
    const PkeyPtr peer = key_of_group(state.range(0));
    for (auto _ : state) {
        PkeyPtr k = generate_like(peer.get());
        if (!k) state.SkipWithError("keygen");
        benchmark::DoNotOptimize(k.get());
    }
}
BENCHMARK(BM_KeyShareGenerate)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_KeyShareDerive(benchmark::State& state) {
    const PkeyPtr peer = key_of_group(state.range(0));
    const PkeyPtr own = key_of_group(state.range(0));
    uint8_t secret[64];
    for (auto _ : state) {
        EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, own.get(), nullptr);
        size_t len = sizeof secret;
        if (ctx == nullptr || EVP_PKEY_derive_init(ctx) != 1 ||
            EVP_PKEY_derive_set_peer(ctx, peer.get()) != 1 ||
            EVP_PKEY_derive(ctx, secret, &len) != 1) {
            state.SkipWithError("derive");
        }
        EVP_PKEY_CTX_free(ctx);
        benchmark::DoNotOptimize(secret);
    }
}
BENCHMARK(BM_KeyShareDerive)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Arg 0: ECDSA P-256 + SHA-256, 1: Ed25519, 2: RSA-2048 PSS + SHA-256.
void BM_CertificateVerifySign(benchmark::State& state) {
    PkeyPtr key(state.range(0) == 0   ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                : state.range(0) == 1 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    const std::vector<uint8_t> tbs(64 + 33 + 1 + 48, 0x20);  // RFC 8446 §4.4.3 content
    std::vector<uint8_t> sig(512);
    for (auto _ : state) {
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        EVP_PKEY_CTX* pctx = nullptr;
        size_t len = sig.size();
        const char* digest = state.range(0) == 1 ? nullptr : "SHA256";
        bool ok =
            EVP_DigestSignInit_ex(md, &pctx, digest, nullptr, nullptr, key.get(), nullptr) == 1;
        if (ok && state.range(0) == 2)
            ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1;
        if (!ok || EVP_DigestSign(md, sig.data(), &len, tbs.data(), tbs.size()) != 1)
            state.SkipWithError("sign");
        EVP_MD_CTX_free(md);
        benchmark::DoNotOptimize(sig.data());
    }
}
BENCHMARK(BM_CertificateVerifySign)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
