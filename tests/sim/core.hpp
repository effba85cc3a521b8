// core.hpp - libnanokernel for the C++ simulator (through nkshim.h).
#pragma once

#include <sys/timex.h>  // STA_* and ADJ_* (same values as the kernel's)

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "nkshim.h"

namespace nksim {

// A named set of NK_OPT_* options.
struct Variant {
    std::string name;
    uint32_t options = 0;
};

// "default" (0; alias "freebsd"), "freebsd-strict" (NK_OPT_FREEBSD_STRICT_CAL: kern_ntptime.c's
// exact PPS calibration), "linux" (NK_OPT_LINUX_ALL), "shiftpll2" (NK_OPT_LINUX_SHIFT_PLL only),
// or a number ("0x7f") for any other combination.
std::optional<Variant> variant_from_name(const std::string& name);

// Owner of one struct nk_clock.
struct ClockDeleter {
    void operator()(nk_clock* c) const {
        ::operator delete (static_cast<void*>(c), std::align_val_t{16});
    }
};
using ClockPtr = std::unique_ptr<nk_clock, ClockDeleter>;
inline ClockPtr new_clock() {
    void* p = ::operator new (nks_clock_size(), std::align_val_t{16});
    std::memset(p, 0, nks_clock_size());
    return ClockPtr(static_cast<nk_clock*>(p));
}

}  // namespace nksim
