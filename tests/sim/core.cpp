#include "core.hpp"

#include <cstdlib>

namespace nksim {

std::optional<Variant> variant_from_name(const std::string& name) {
    if (name == "freebsd") return Variant{name, 0};
    if (name == "linux") return Variant{name, NKS_OPT_LINUX_ALL};
    if (name == "shiftpll2") return Variant{name, NKS_OPT_LINUX_SHIFT_PLL};
    if (name.empty()) return std::nullopt;
    char* end = nullptr;
    const unsigned long v = std::strtoul(name.c_str(), &end, 0);
    if (*end != '\0' || v > NKS_OPT_LINUX_ALL) return std::nullopt;
    return Variant{name, static_cast<uint32_t>(v)};
}

}  // namespace nksim
