// bench_nts - what NTS costs per packet: the server's check + respond of a
// typical request (one cookie, no placeholders: the client's jar is full),
// the client's request and response check, and the AEAD alone. The counter
// allocs/iter counts heap allocations (malloc, calloc, realloc: OpenSSL's
// and C++'s) per iteration; they come from OpenSSL's SIV re-keying. Report Release figures
// (tests/bench/README.md).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>

#include "nts_exchange.hpp"

namespace {

std::atomic<uint64_t> g_allocations{0};

}  // namespace

// Every heap allocation of the process, OpenSSL's (CRYPTO_malloc) and C++'s
// (operator new) included, goes through malloc/calloc/realloc: counted by
// interposing glibc's (this binary only).
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

using namespace nts;

void report_allocations(benchmark::State& state, uint64_t before) {
    state.counters["allocs/iter"] = benchmark::Counter(
        static_cast<double>(g_allocations.load() - before), benchmark::Counter::kAvgIterations);
}

// Arg 0 of every benchmark: the session's AEAD, 15 (AES-SIV-CMAC-256) or
// 30 (AES-128-GCM-SIV). Cookies are AES-SIV sealed either way.
uint16_t aead_of(const benchmark::State& state) {
    return static_cast<uint16_t>(state.range(0));
}

void BM_ServerCheckRespond(benchmark::State& state) {
    test::Exchange x(kJarCapacity, aead_of(state));
    const auto request = x.request();
    std::vector<uint8_t> out(kMaxNtsPacket);
    const auto header = test::server_header(request.data());
    const uint64_t before = g_allocations.load();
    for (auto _ : state) {
        const NtsRequest checked = x.server->check(request, test::kNow);
        auto n = x.server->respond(checked, header, test::kNow, out);
        benchmark::DoNotOptimize(n);
    }
    report_allocations(state, before);
    state.counters["request_octets"] = static_cast<double>(request.size());
}
BENCHMARK(BM_ServerCheckRespond)->ArgName("aead")->Arg(15)->Arg(30);

void BM_ClientRequestAndResponseCheck(benchmark::State& state) {
    test::Exchange x(kJarCapacity, aead_of(state));
    std::vector<uint8_t> request(kMaxNtsPacket);
    std::vector<uint8_t> response(kMaxNtsPacket);
    const uint64_t before = g_allocations.load();
    uint64_t server_side = 0;
    for (auto _ : state) {
        const auto n = x.client->build_request(test::client_header(), request);
        state.PauseTiming();
        const uint64_t mark = g_allocations.load();
        const std::span<const uint8_t> sent(request.data(), *n);
        const NtsRequest checked = x.server->check(sent, test::kNow);
        const auto m =
            x.server->respond(checked, test::server_header(request.data()), test::kNow, response);
        server_side += g_allocations.load() - mark;
        state.ResumeTiming();
        auto verdict = x.client->check_response(std::span<const uint8_t>(response.data(), *m));
        benchmark::DoNotOptimize(verdict);
    }
    state.counters["allocs/iter"] =
        benchmark::Counter(static_cast<double>(g_allocations.load() - before - server_side),
                           benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ClientRequestAndResponseCheck)->ArgName("aead")->Arg(15)->Arg(30);

// Arg 1: plaintext octets (0: a request's authenticator; 108: a response's
// encrypted field holding one 104-octet cookie).
void BM_AeadSealOpenRequestSized(benchmark::State& state) {
    auto aead = std::move(*Aead::create(aead_of(state)));
    std::vector<uint8_t> key(aead.key_length());
    std::vector<uint8_t> nonce(aead.nts_nonce_length());
    std::vector<uint8_t> ad(228, 0x5a);  // header + UID + cookie field
    std::vector<uint8_t> plain(static_cast<size_t>(state.range(1)), 0x33);
    std::vector<uint8_t> sealed(Aead::sealed_length(plain.size()));
    std::vector<uint8_t> opened(plain.size());
    const uint64_t before = g_allocations.load();
    for (auto _ : state) {
        nonce[0]++;
        benchmark::DoNotOptimize(aead.seal(key, nonce, ad, plain, sealed));
        benchmark::DoNotOptimize(aead.open(key, nonce, ad, sealed, opened));
    }
    report_allocations(state, before);
}
BENCHMARK(BM_AeadSealOpenRequestSized)
    ->ArgNames({"aead", "plain"})
    ->ArgsProduct({{15, 30}, {0, 108}});

// The server's request check alone (cookie open + authenticator verify):
// what an NTS request costs before any reply is written.
void BM_ServerCheck(benchmark::State& state) {
    test::Exchange x(kJarCapacity, aead_of(state));
    const auto request = x.request();
    for (auto _ : state) {
        const NtsRequest checked = x.server->check(request, test::kNow);
        benchmark::DoNotOptimize(checked.verdict);
    }
}
BENCHMARK(BM_ServerCheck)->ArgName("aead")->Arg(15)->Arg(30);

}  // namespace

BENCHMARK_MAIN();
