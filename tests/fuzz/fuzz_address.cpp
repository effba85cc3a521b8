// Fuzz target: IP address and CIDR text (from the configuration file's
// allow/deny lists). An accepted address must survive a print/parse round
// trip, and a parsed CIDR must contain its own network address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/access_list.hpp"

using namespace nanotime::ntp;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto address = IpAddress::parse(text)) {
        const auto again = IpAddress::parse(address->to_string());
        check(again.has_value() && *again == *address);
    }
    if (auto cidr = Cidr::parse(text)) {
        check(cidr->prefix <= cidr->network.size() * 8);
        check(cidr->contains(cidr->network));
        AccessList acl;
        acl.allow(*cidr);
        check(acl.permits(cidr->network));
    }
    return 0;
}
