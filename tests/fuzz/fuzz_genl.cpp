// Fuzz target: the decoders of the nanoclock modules' generic-netlink
// messages (daemon/kernel/genl_messages.cpp): GET_CLOCK replies / EVENTs,
// GET_SOURCE replies / EDGEs, and extended-ACK attributes.
//
// Invariants beyond "no crash, no sanitizer report":
//  * a decoded clock has nanoseconds below 1e9 and the names are the strings
//    that were in the message (NUL-terminated, so shorter than it);
//  * decoding is deterministic: the same bytes decode the same way twice.
// The first input byte picks the decoder; the rest is the payload after the
// nlmsghdr, copied to 4-byte aligned storage as netlink buffers are.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernel/genl_messages.hpp"

using namespace nanotime::kernel;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const uint8_t which = data[0] % 3;
    const size_t n = size - 1;
    std::vector<uint32_t> aligned((n + 3) / 4);
    if (n > 0) std::memcpy(aligned.data(), data + 1, n);
    const std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(aligned.data()), n);

    if (which == 0) {
        std::string e1, e2;
        auto a = decode_clock(payload, &e1);
        auto b = decode_clock(payload, &e2);
        check(a.has_value() == b.has_value() && e1 == e2);
        if (a) {
            check(a->time_nsec < 1'000'000'000u);
            check(a->name.size() < n);
            check(a->index == b->index && a->status == b->status && a->name == b->name);
        } else {
            check(!e1.empty());
        }
        (void)genl_command(payload);
    } else if (which == 1) {
        std::string e1;
        auto a = decode_pps_source(payload, &e1);
        auto b = decode_pps_source(payload, nullptr);
        check(a.has_value() == b.has_value());
        if (a) {
            check(!a->name.empty() || n > 0);
            check(a->name.size() < n && a->kind.size() < n);
            check(a->name == b->name && a->edges == b->edges);
        } else {
            check(!e1.empty());
        }
    } else {
        // Extended ACK TLVs arrive unaligned after struct nlmsgerr: use the
        // original bytes.
        const std::string m = extack_message({data + 1, n});
        check(m.size() <= n);
    }
    return 0;
}
