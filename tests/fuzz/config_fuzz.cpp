// config_fuzz - libFuzzer target for nanotimed's configuration parser
// (toml++ compiled header-only, so the TOML parser is instrumented too).
// Any input must give either a Config or a non-empty list of errors, each
// with a message, and never crash, hang or leak.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const nanotime::config::ParseResult r = nanotime::config::parse_config(text, "fuzz.toml");
    if (r.config.has_value() == !r.errors.empty()) std::abort();
    for (const nanotime::config::ConfigError& e : r.errors) {
        if (e.message.empty() || e.to_string().empty()) std::abort();
    }
    if (r.config) {
        const nanotime::config::Config& c = *r.config;
        for (const auto& s : c.sources) {
            if (s.minpoll > s.maxpoll || s.address.empty()) std::abort();
        }
        if (c.server.enabled() && c.server.allow.empty()) std::abort();
        (void)c.server.uses_privileged_port();
    }
    return 0;
}
