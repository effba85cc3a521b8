#include "net/socket_address.hpp"

#include <charconv>
#include <cstdio>
#include <vector>

namespace nanotime::ntp {
namespace {

std::optional<IpAddress> parse_v4(std::string_view text) {
    IpAddress ip;
    size_t pos = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (pos >= text.size() || text[pos] != '.') return std::nullopt;
            ++pos;
        }
        unsigned value = 0;
        const char* begin = text.data() + pos;
        const char* end = text.data() + text.size();
        auto [next, ec] = std::from_chars(begin, end, value);
        if (ec != std::errc{} || next == begin || next - begin > 3 || value > 255) {
            return std::nullopt;
        }
        ip.bytes[i] = static_cast<uint8_t>(value);
        pos += static_cast<size_t>(next - begin);
    }
    if (pos != text.size()) return std::nullopt;
    return ip;
}

// Parses up to @max_groups colon-separated hex groups (no "::") into @out.
bool parse_groups(std::string_view text, std::vector<uint16_t>& out) {
    if (text.empty()) return true;
    size_t pos = 0;
    for (;;) {
        unsigned value = 0;
        const char* begin = text.data() + pos;
        const char* end = text.data() + text.size();
        auto [next, ec] = std::from_chars(begin, end, value, 16);
        if (ec != std::errc{} || next == begin || next - begin > 4) return false;
        out.push_back(static_cast<uint16_t>(value));
        pos += static_cast<size_t>(next - begin);
        if (pos == text.size()) return true;
        if (text[pos] != ':') return false;
        ++pos;
    }
}

std::optional<IpAddress> parse_v6(std::string_view text) {
    std::vector<uint16_t> head, tail;
    std::array<uint8_t, 4> embedded_v4{};
    bool has_v4 = false;
    // A trailing dotted quad (e.g. ::ffff:192.0.2.1) stands for two groups.
    const size_t last_colon = text.rfind(':');
    if (last_colon != std::string_view::npos &&
        text.find('.', last_colon) != std::string_view::npos) {
        auto v4 = parse_v4(text.substr(last_colon + 1));
        if (!v4) return std::nullopt;
        for (int i = 0; i < 4; ++i) embedded_v4[i] = v4->bytes[i];
        has_v4 = true;
        text = text.substr(0, last_colon + 1);
        if (text.size() >= 2 && text.substr(text.size() - 2) == "::") {
            // keep "::" intact
        } else {
            text.remove_suffix(1);
        }
    }
    const size_t gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_groups(text, head)) return std::nullopt;
    } else {
        if (text.find("::", gap + 1) != std::string_view::npos) return std::nullopt;
        if (!parse_groups(text.substr(0, gap), head)) return std::nullopt;
        if (!parse_groups(text.substr(gap + 2), tail)) return std::nullopt;
    }
    const size_t groups = head.size() + tail.size() + (has_v4 ? 2 : 0);
    if (gap == std::string_view::npos ? groups != 8 : groups > 7) return std::nullopt;
    std::array<uint8_t, 16> bytes{};
    size_t index = 0;
    for (uint16_t g : head) {
        bytes[index++] = static_cast<uint8_t>(g >> 8);
        bytes[index++] = static_cast<uint8_t>(g);
    }
    index = 16 - 2 * tail.size() - (has_v4 ? 4 : 0);
    for (uint16_t g : tail) {
        bytes[index++] = static_cast<uint8_t>(g >> 8);
        bytes[index++] = static_cast<uint8_t>(g);
    }
    if (has_v4) {
        for (int i = 0; i < 4; ++i) bytes[12 + i] = embedded_v4[i];
    }
    return IpAddress::v6(bytes);
}

}  // namespace

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress ip;
    ip.family = AddressFamily::Ipv4;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
    IpAddress ip;
    ip.family = AddressFamily::Ipv6;
    ip.bytes = bytes;
    return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.find(':') != std::string_view::npos) return parse_v6(text);
    return parse_v4(text);
}

IpAddress IpAddress::unmapped() const {
    if (family != AddressFamily::Ipv6) return *this;
    for (int i = 0; i < 10; ++i) {
        if (bytes[i] != 0) return *this;
    }
    if (bytes[10] != 0xff || bytes[11] != 0xff) return *this;
    return v4(bytes[12], bytes[13], bytes[14], bytes[15]);
}

std::string IpAddress::to_string() const {
    char buffer[64];
    if (family == AddressFamily::Ipv4) {
        std::snprintf(buffer, sizeof buffer, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
        return buffer;
    }
    // Full form without "::" compression: unambiguous and good enough for logs.
    std::string out;
    for (int i = 0; i < 8; ++i) {
        std::snprintf(buffer, sizeof buffer, "%s%x", i ? ":" : "",
                      bytes[2 * i] << 8 | bytes[2 * i + 1]);
        out += buffer;
    }
    return out;
}

std::string SocketAddress::to_string() const {
    if (ip.family == AddressFamily::Ipv6) return "[" + ip.to_string() + "]:" + std::to_string(port);
    return ip.to_string() + ":" + std::to_string(port);
}

}  // namespace nanotime::ntp
