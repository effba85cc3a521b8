// SPDX-License-Identifier: GPL-2.0
// read_bench: nanoclock reads via the syscall and the mmap page, side by
// side with vDSO CLOCK_REALTIME and CLOCK_MONOTONIC_RAW (target: mmap <=
// 1.5x MONOTONIC_RAW).
#include <benchmark/benchmark.h>
#include <time.h>

extern "C" {
#include "libnanoclock.h"
}

static struct nanoclock* clk() {
    static struct nanoclock* nc = nanoclock_open(0, 0);
    return nc;
}

static void BM_vdso_realtime(benchmark::State& st) {
    struct timespec ts;
    for (auto _ : st) {
        clock_gettime(CLOCK_REALTIME, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
BENCHMARK(BM_vdso_realtime);

static void BM_vdso_monotonic_raw(benchmark::State& st) {
    struct timespec ts;
    for (auto _ : st) {
        clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
BENCHMARK(BM_vdso_monotonic_raw);

static void BM_nanoclock_mmap(benchmark::State& st) {
    struct nanoclock* nc = clk();
    struct timespec ts;
    if (!nc || !nanoclock_has_page(nc)) {
        st.SkipWithError("no /dev/nanoclock0 page");
        return;
    }
    for (auto _ : st) {
        nanoclock_gettime(nc, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
BENCHMARK(BM_nanoclock_mmap);

static void BM_nanoclock_syscall(benchmark::State& st) {
    struct nanoclock* nc = clk();
    struct timespec ts;
    if (!nc) {
        st.SkipWithError("no /dev/nanoclock0");
        return;
    }
    for (auto _ : st) {
        nanoclock_gettime_syscall(nc, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
BENCHMARK(BM_nanoclock_syscall);

BENCHMARK_MAIN();
