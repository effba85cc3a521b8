#include "core.hpp"

#include <cstdlib>

namespace nksim {

std::optional<Variant> variant_from_name(const std::string& name) {
    // "freebsd" is the old name of the default (FreeBSD's algorithm with the
    // calibration deviations of libnanokernel/README.md).
    if (name == "default" || name == "freebsd") return Variant{"default", 0};
    if (name == "freebsd-strict") return Variant{name, NKS_OPT_FREEBSD_STRICT_CAL};
    if (name == "linux") return Variant{name, NKS_OPT_LINUX_ALL};
    if (name == "shiftpll2") return Variant{name, NKS_OPT_LINUX_SHIFT_PLL};
    if (name == "estimator") return Variant{name, NKS_OPT_PPS_ESTIMATOR};
    if (name.empty()) return std::nullopt;
    char* end = nullptr;
    const unsigned long v = std::strtoul(name.c_str(), &end, 0);
    if (*end != '\0' || v > NKS_OPT_ALL) return std::nullopt;
    return Variant{name, static_cast<uint32_t>(v)};
}

}  // namespace nksim
