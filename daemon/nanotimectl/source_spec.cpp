// source_spec.cpp - see source_spec.hpp.
#include "nanotimectl/source_spec.hpp"

#include <array>
#include <cstdio>
#include <utility>

namespace nanotime::ctl {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

bool is_integer(const std::string& text) {
    size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
    if (i == text.size() || text.size() > 12) return false;
    for (; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
    }
    return true;
}

constexpr std::array<const char*, 4> kFlags = {"iburst", "xleave", "nts", "trust"};
// The configuration's key for each option that takes a number (chronyc's
// spelling mapped to ours).
constexpr std::array<std::pair<const char*, const char*>, 7> kValued = {{
    {"port", "port"},
    {"minpoll", "minpoll"},
    {"maxpoll", "maxpoll"},
    {"max_sources", "max_sources"},
    {"maxsources", "max_sources"},
    {"nts_port", "nts_port"},
    {"ntsport", "nts_port"},
}};

}  // namespace

std::optional<std::string> source_toml(const std::vector<std::string>& words, std::string& error) {
    if (words.size() < 2 || (words[0] != "server" && words[0] != "pool")) {
        error = "add needs \"server\" or \"pool\", then the host (and options)";
        return std::nullopt;
    }
    std::string text = "[[source]]\n" + words[0] + " = " + toml_string(words[1]) + "\n";
    for (size_t i = 2; i < words.size(); ++i) {
        const std::string& word = words[i];
        bool known = false;
        for (const char* flag : kFlags) {
            if (word == flag) {
                text += word + " = true\n";
                known = true;
            }
        }
        for (const auto& [name, key] : kValued) {
            if (word != name) continue;
            if (i + 1 == words.size() || !is_integer(words[i + 1])) {
                error = "option " + word + " needs a number";
                return std::nullopt;
            }
            text += std::string(key) + " = " + words[++i] + "\n";
            known = true;
        }
        if (!known) {
            error = "unknown option \"" + word +
                    "\" (iburst, xleave, nts, trust, port N, minpoll N, maxpoll N, "
                    "max_sources N, nts_port N)";
            return std::nullopt;
        }
    }
    return text;
}

}  // namespace nanotime::ctl
