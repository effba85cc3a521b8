// test_support.hpp - hex helpers for the NTS tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nts::test {

inline std::vector<uint8_t> hex(std::string_view text) {
    std::vector<uint8_t> out;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return c - 'A' + 10;
    };
    int high = -1;
    for (char c : text) {
        if (c == ' ') continue;
        if (high < 0) {
            high = nibble(c);
        } else {
            out.push_back(static_cast<uint8_t>(high << 4 | nibble(c)));
            high = -1;
        }
    }
    return out;
}

inline std::string to_hex(const std::vector<uint8_t>& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

}  // namespace nts::test
