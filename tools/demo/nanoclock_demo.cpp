// nanoclock-demo: the main job's report on a freshly loaded nanoclock.ko.
//
// Runs inside the VM (tools/demo/demo-vm.sh) against /dev/nanoclock0 and
// shows, step by step, that the clock is readable (syscall and mmap page),
// settable, adjustable in frequency, steerable through the PLL and steppable,
// measuring each effect against CLOCK_MONOTONIC_RAW (the clock's PCC). Each
// step prints what it measured and whether that matches what was asked; the
// exit status is non-zero if any step does not.
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "io/timex_names.hpp"
#include "libnanoclock.h"

namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t to_ns(const timespec& ts) {
    return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

int64_t raw_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return to_ns(ts);
}

int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return to_ns(ts);
}

int failures = 0;

void verdict(bool ok, const char* what) {
    std::printf("  %-6s %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) ++failures;
}

void sleep_ms(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// Clock minus PCC (ns): constant while the clock runs at the PCC's rate.
int64_t clock_minus_raw(nanoclock* nc) {
    timespec ts{};
    uint64_t pcc = 0;
    if (nanoclock_gettime_pcc(nc, &ts, &pcc) != 0) return 0;
    return to_ns(ts) - static_cast<int64_t>(pcc);
}

int adjtime_or_report(nanoclock* nc, timex* tx, const char* what) {
    int state = nanoclock_adjtime(nc, tx);
    if (state < 0) std::printf("  clock_adjtime(%s): %s\n", what, std::strerror(errno));
    return state;
}

// Median per-read cost (ns) of @read over @n calls, measured in blocks.
template <typename Read>
int64_t read_cost_ns(Read read, int n) {
    std::vector<int64_t> blocks;
    constexpr int kBlock = 1000;
    for (int b = 0; b < n / kBlock; ++b) {
        int64_t t0 = raw_ns();
        for (int i = 0; i < kBlock; ++i) read();
        blocks.push_back((raw_ns() - t0) / kBlock);
    }
    std::sort(blocks.begin(), blocks.end());
    return blocks[blocks.size() / 2];
}

void step_identify(nanoclock* nc) {
    struct nanoclock_info info {};
    timespec res{};
    std::printf("\n[1] The clock\n");
    bool ok = nanoclock_info(nc, &info) == 0 && nanoclock_getres(nc, &res) == 0;
    if (ok) {
        std::printf(
            "  /dev/nanoclock%u, PTP view /dev/ptp%d, tick %u Hz, mmap page %s, "
            "resolution %ld ns\n",
            info.index, info.ptp_index, info.tick_hz, nanoclock_has_page(nc) ? "mapped" : "absent",
            res.tv_nsec);
    }
    verdict(ok && res.tv_sec == 0 && res.tv_nsec == 1, "device answers, 1 ns resolution");
}

void step_set_and_read(nanoclock* nc) {
    std::printf("\n[2] Set to CLOCK_REALTIME and read it back\n");
    // Twice: the first call also pays for translating the kernel's settime
    // path under QEMU's TCG (hundreds of us), which would show as an offset.
    bool set_ok = true;
    for (int i = 0; i < 2; ++i) {
        timespec now{};
        clock_gettime(CLOCK_REALTIME, &now);
        set_ok = set_ok && nanoclock_settime(nc, &now) == 0;
    }
    verdict(set_ok, "clock_settime");
    // Bracket each reading between two others and keep the tightest of a few
    // tries: under emulation a read can be descheduled for hundreds of us.
    int64_t best_span = INT64_MAX, vs_realtime = 0, mmap_vs_syscall = 0;
    for (int i = 0; i < 20; ++i) {
        timespec a{}, b{}, c{};
        int64_t rt0 = realtime_ns();
        nanoclock_gettime_syscall(nc, &a);
        nanoclock_gettime(nc, &b);
        nanoclock_gettime_syscall(nc, &c);
        int64_t rt1 = realtime_ns();
        if (rt1 - rt0 < best_span) {
            best_span = rt1 - rt0;
            vs_realtime = to_ns(b) - (rt0 + (rt1 - rt0) / 2);
            mmap_vs_syscall = to_ns(b) - (to_ns(a) + (to_ns(c) - to_ns(a)) / 2);
        }
    }
    std::printf("  nanoclock - CLOCK_REALTIME %+" PRId64 " ns; mmap - syscall %+" PRId64
                " ns (bracket %" PRId64 " ns)\n",
                vs_realtime, mmap_vs_syscall, best_span);
    verdict(std::llabs(vs_realtime) < 1'000'000, "agrees with the system clock within 1 ms");
    verdict(std::llabs(mmap_vs_syscall) <= best_span,
            "mmap page and system call agree within the read bracket");
    timespec ts{};
    int64_t mmap_ns = read_cost_ns([&] { nanoclock_gettime(nc, &ts); }, 100'000);
    int64_t sys_ns = read_cost_ns([&] { nanoclock_gettime_syscall(nc, &ts); }, 100'000);
    int64_t vdso_ns = read_cost_ns([&] { clock_gettime(CLOCK_MONOTONIC_RAW, &ts); }, 100'000);
    std::printf("  read cost (median, emulated CPU): mmap page %" PRId64 " ns, syscall %" PRId64
                " ns, vDSO CLOCK_MONOTONIC_RAW %" PRId64 " ns\n",
                mmap_ns, sys_ns, vdso_ns);
    verdict(mmap_ns < sys_ns, "the mmap page is cheaper than the system call");
}

void step_gettime(nanoclock* nc) {
    std::printf("\n[3] ntp_gettime on the clock\n");
    struct nanoclock_ntptime nt {};
    bool ok = nanoclock_ntp_gettime(nc, &nt) == 0;
    if (ok)
        std::printf("  state %s, status %s, maxerror %" PRId64 " us, esterror %" PRId64
                    " us, tai %d s\n",
                    nanotime::io::clock_state_name(nt.state),
                    nanotime::io::status_flags_string(static_cast<int>(nt.status)).c_str(),
                    static_cast<int64_t>(nt.maxerror), static_cast<int64_t>(nt.esterror), nt.tai);
    verdict(ok, "NANOCLOCK_IOC_NTP_GETTIME");
}

void step_frequency(nanoclock* nc) {
    std::printf("\n[4] Frequency: ADJ_FREQUENCY +100 ppm, measured against the PCC over 2 s\n");
    timex tx{};
    tx.modes = ADJ_FREQUENCY;
    tx.freq = 100L << 16;  // ppm << 16
    bool ok = adjtime_or_report(nc, &tx, "ADJ_FREQUENCY") >= 0;
    // Like the nanokernel it runs, the clock takes a new frequency into its
    // slope at the next second boundary: measure from the one after.
    sleep_ms(1200);
    int64_t r0 = raw_ns(), d0 = clock_minus_raw(nc);
    sleep_ms(2000);
    int64_t r1 = raw_ns(), d1 = clock_minus_raw(nc);
    // (clock - raw) grows by freq * elapsed: ppb = 1e9 * delta / elapsed.
    int64_t ppb = (d1 - d0) * kNsPerSec / (r1 - r0);
    std::printf("  measured rate %+.3f ppm (asked +100.000 ppm)\n", static_cast<double>(ppb) / 1e3);
    verdict(ok && std::llabs(ppb - 100'000) < 200, "rate within 0.2 ppm of the request");
    tx = {};
    tx.modes = ADJ_FREQUENCY;
    tx.freq = 0;
    adjtime_or_report(nc, &tx, "ADJ_FREQUENCY 0");
}

void step_pll(nanoclock* nc) {
    std::printf("\n[5] Steering: ADJ_OFFSET +2 ms through the PLL (STA_PLL, time constant 0)\n");
    timex tx{};
    tx.modes = ADJ_STATUS | ADJ_NANO | ADJ_TIMECONST;
    tx.status = STA_PLL;
    tx.constant = 0;
    bool ok = adjtime_or_report(nc, &tx, "STA_PLL") >= 0;
    int64_t base = clock_minus_raw(nc);
    tx = {};
    tx.modes = ADJ_OFFSET | ADJ_NANO;
    tx.offset = 2'000'000;  // ns
    ok = ok && adjtime_or_report(nc, &tx, "ADJ_OFFSET") >= 0;
    std::printf("  %4s  %14s  %16s\n", "t/s", "applied/us", "remaining/us");
    int64_t applied = 0, remaining = 0;
    for (int s = 1; s <= 8; ++s) {
        sleep_ms(1000);
        applied = clock_minus_raw(nc) - base;
        timex rd{};
        rd.modes = 0;
        nanoclock_adjtime(nc, &rd);
        remaining = rd.offset;  // ns (STA_NANO is set)
        std::printf("  %4d  %14.1f  %16.1f\n", s, static_cast<double>(applied) / 1e3,
                    static_cast<double>(remaining) / 1e3);
    }
    // The PLL slews the offset in gradually (no step): some of it applied,
    // the rest still pending, and the two adding up to about the request.
    verdict(ok && applied > 100'000 && remaining > 0 && remaining < 2'000'000,
            "the offset is slewed in gradually, not stepped");
    tx = {};
    tx.modes = ADJ_STATUS | ADJ_OFFSET | ADJ_FREQUENCY;
    tx.status = 0;
    tx.offset = 0;
    tx.freq = 0;
    adjtime_or_report(nc, &tx, "reset");
}

void step_setoffset(nanoclock* nc) {
    std::printf("\n[6] Step: ADJ_SETOFFSET +1.5 s\n");
    int64_t before = clock_minus_raw(nc);
    timex tx{};
    tx.modes = ADJ_SETOFFSET | ADJ_NANO;
    tx.time.tv_sec = 1;
    tx.time.tv_usec = 500'000'000;  // ns, with ADJ_NANO
    bool ok = adjtime_or_report(nc, &tx, "ADJ_SETOFFSET") >= 0;
    int64_t jump = clock_minus_raw(nc) - before;
    std::printf("  clock jumped by %.6f s\n", static_cast<double>(jump) / 1e9);
    verdict(ok && std::llabs(jump - 1'500'000'000) < 1'000'000, "step of 1.5 s within 1 ms");
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    nanoclock_settime(nc, &now);
}

}  // namespace

int main(int argc, char** argv) {
    int index = 0;  // N of /dev/nanoclockN
    if (argc > 1) {
        const std::string_view arg = argv[1];
        const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), index);
        if (ec != std::errc() || end != arg.data() + arg.size() || index < 0) {
            std::fprintf(stderr, "usage: nanoclock-demo [N]  (the clock /dev/nanoclockN)\n");
            return 2;
        }
    }
    nanoclock* nc = nanoclock_open(index, 1);
    if (!nc) {
        std::fprintf(stderr, "nanoclock-demo: /dev/nanoclock%d: %s\n", index, std::strerror(errno));
        return 1;
    }
    step_identify(nc);
    step_set_and_read(nc);
    step_gettime(nc);
    step_frequency(nc);
    step_pll(nc);
    step_setoffset(nc);
    nanoclock_close(nc);
    std::printf("\nnanoclock-demo: %s\n", failures ? "SOME STEPS FAILED" : "all steps ok");
    return failures ? 1 : 0;
}
