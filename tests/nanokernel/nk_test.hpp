// Shared helpers for the libnanokernel unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "nanokernel.h"

namespace nktest {

constexpr int64_t kNs = 1000000000LL;
constexpr int64_t kFrac = int64_t{1} << 32;  // one ns (or ns/s) as l_fp
constexpr uint64_t kP0 = 1000ULL * kNs;      // PCC at init: 1000 s of uptime
constexpr int64_t kT0 = 1700000000;          // clock seconds at init

// l_fp of an integer: x << 32.
constexpr int64_t lfp(int64_t x) {
    return x * kFrac;
}

inline struct __kernel_timex mktx(unsigned int modes) {
    struct __kernel_timex tx {};
    tx.modes = modes;
    return tx;
}

// A clock at kT0.000000000 when the PCC reads kP0.
class Clock : public ::testing::Test {
  protected:
    void SetUp() override { init(0); }
    void init(uint32_t options, int64_t sec = kT0, int32_t nsec = 0, uint64_t pcc = kP0) {
        nk_init(&c, options, pcc, sec, nsec);
        pcc_ = pcc;
    }
    // ntp_adjtime at the current PCC.
    int adj(struct __kernel_timex& tx) { return nk_adjtime(&c, &tx, pcc_); }
    int adj(unsigned int modes) {
        struct __kernel_timex tx = mktx(modes);
        return adj(tx);
    }
    // Enable the PLL in ns mode (clears STA_UNSYNC): the usual daemon start.
    void pll_nano(int extra_status = 0) {
        struct __kernel_timex tx = mktx(ADJ_STATUS | ADJ_NANO);
        tx.status = STA_PLL | extra_status;
        ASSERT_GE(adj(tx), 0);
    }
    // Offset update in the current unit.
    int offset(int64_t off) {
        struct __kernel_timex tx = mktx(ADJ_OFFSET);
        tx.offset = off;
        return adj(tx);
    }
    // Move the PCC to @pcc and tick there.
    uint64_t tick_at(uint64_t pcc) {
        pcc_ = pcc;
        return nk_tick(&c, pcc);
    }
    // Tick @n times, each at the boundary the previous tick predicted.
    void tick_seconds(int n) {
        for (int i = 0; i < n; i++) tick_at(c.next_second_pcc);
    }
    struct nk_time now() const {
        struct nk_time t;
        nk_read(&c, pcc_, &t);
        return t;
    }
    struct nk_clock c {};
    uint64_t pcc_ = 0;
};

}  // namespace nktest
