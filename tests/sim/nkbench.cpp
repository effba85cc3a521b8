// nkbench - ns per nk_read(), nk_hardpps() and nk_tick() on a disciplined clock.
//
// Calls go through nkshim (one extra out-of-line call, ~1 ns, over the
// module's direct calls).
#include <benchmark/benchmark.h>

#include "core.hpp"

namespace {

constexpr uint64_t kPcc0 = 1000000000000ULL;
constexpr uint64_t kSecond = 1000000000ULL + 20000;  // +20 ppm oscillator

// A clock in PPS discipline that has run for ten minutes, so the core takes
// its ordinary paths (not the start-up ones).
nksim::ClockPtr warm_clock(uint64_t* pcc_out, uint32_t options = 0) {
    nksim::ClockPtr c = nksim::new_clock();
    nks_init(c.get(), options, kPcc0, 1700000000, 1000);
    nks_timex tx{};
    tx.modes = ADJ_NANO | ADJ_STATUS;
    tx.status = STA_PLL | STA_PPSFREQ | STA_PPSTIME;
    nks_adjtime(c.get(), &tx, kPcc0);
    uint64_t pcc = kPcc0;
    uint64_t next = nks_tick(c.get(), pcc);
    for (int k = 0; k < 600; ++k) {
        pcc += kSecond;
        while (next <= pcc) next = nks_tick(c.get(), next);
        nks_hardpps(c.get(), pcc);
    }
    *pcc_out = pcc;
    return c;
}

void BM_nk_read(benchmark::State& st) {
    uint64_t pcc;
    nksim::ClockPtr c = warm_clock(&pcc);
    int64_t sec;
    int32_t nsec;
    for (auto _ : st) {
        pcc += 37;
        nks_read(c.get(), pcc, &sec, &nsec);
        benchmark::DoNotOptimize(sec);
        benchmark::DoNotOptimize(nsec);
    }
}
BENCHMARK(BM_nk_read);

// One PPS edge per call, a second apart with some jitter; the second overflow
// is not run in between (hardpps alone is measured).
void BM_nk_hardpps(benchmark::State& st) {
    uint64_t pcc;
    nksim::ClockPtr c = warm_clock(&pcc);
    for (auto _ : st) {
        pcc += kSecond + ((pcc >> 7) & 1023);
        nks_hardpps(c.get(), pcc);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_nk_hardpps);

// The same with the estimator PPS discipline (NK_OPT_PPS_ESTIMATOR).
void BM_nk_hardpps_estimator(benchmark::State& st) {
    uint64_t pcc;
    nksim::ClockPtr c = warm_clock(&pcc, NKS_OPT_PPS_ESTIMATOR);
    for (auto _ : st) {
        pcc += kSecond + ((pcc >> 7) & 1023);
        nks_hardpps(c.get(), pcc);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_nk_hardpps_estimator);

// A tick inside a second (re-base only): ticks 1 us apart after a boundary.
void BM_nk_tick_rebase(benchmark::State& st) {
    uint64_t pcc;
    nksim::ClockPtr c = warm_clock(&pcc);
    const uint64_t start = nks_tick(c.get(), pcc) + 10;  // just past the next boundary
    const uint64_t next = nks_tick(c.get(), start);      // the one after
    nksim::ClockPtr fresh = nksim::new_clock();
    nks_copy(fresh.get(), c.get());
    uint64_t t = start;
    for (auto _ : st) {
        t += 1000;
        if (t >= next - 1000) {  // stay inside the second
            st.PauseTiming();
            nks_copy(c.get(), fresh.get());
            t = start;
            st.ResumeTiming();
        }
        benchmark::DoNotOptimize(nks_tick(c.get(), t));
    }
}
BENCHMARK(BM_nk_tick_rebase);

// A tick just after each predicted second boundary (re-base + second overflow).
void BM_nk_tick_second(benchmark::State& st) {
    uint64_t pcc;
    nksim::ClockPtr c = warm_clock(&pcc);
    uint64_t next = nks_tick(c.get(), pcc);
    for (auto _ : st) {
        next = nks_tick(c.get(), next + 10);
        benchmark::DoNotOptimize(next);
    }
}
BENCHMARK(BM_nk_tick_second);

}  // namespace

BENCHMARK_MAIN();
