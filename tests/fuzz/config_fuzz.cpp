// config_fuzz - libFuzzer target for nanotimed's configuration parser and
// its run-time sources file (toml++ compiled header-only, so the TOML parser
// is instrumented too).
// Any input must give either a Config or a non-empty list of errors, each
// with a message, and never crash, hang or leak. A Config the check accepts
// must start: it is turned into the start-up structures as the daemon does
// (listen addresses into the sockaddrs they are bound with, the server config
// into an NtpServer), and none of that may fail.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"
#include "io/sockaddr.hpp"
#include "server/ntp_server.hpp"
#include "util/random.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nanotime;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // The run-time sources file (and nanotimectl add's request, which the
    // daemon parses the same way): [[source]] tables only; what it accepts
    // is written back by format_sources_file and reads back the same.
    const config::SourcesFileResult kept = config::parse_sources_file(text, "sources.toml");
    if (!kept.errors.empty() && !kept.sources.empty()) std::abort();
    if (kept.errors.empty()) {
        const config::SourcesFileResult back =
            config::parse_sources_file(config::format_sources_file(kept.sources), "back.toml");
        if (!back.errors.empty() || back.sources.size() != kept.sources.size()) std::abort();
        for (size_t i = 0; i < back.sources.size(); ++i) {
            if (!config::same_source(back.sources[i], kept.sources[i])) std::abort();
        }
    }
    const config::ParseResult r = config::parse_config(text, "fuzz.toml");
    if (r.config.has_value() == !r.errors.empty()) std::abort();
    for (const config::ConfigError& e : r.errors) {
        if (e.message.empty() || e.to_string().empty()) std::abort();
    }
    if (!r.config) return 0;
    const config::Config& c = *r.config;
    for (const auto& s : c.sources) {
        if (s.source.minpoll > s.source.maxpoll || s.address.empty()) std::abort();
    }
    if (c.server.enabled() && c.server.access.empty()) std::abort();
    (void)c.server.uses_privileged_port();
    // Start-up: every listen address becomes a bindable sockaddr that reads
    // back as the same address (io/sockaddr.hpp, the one conversion), and
    // the text the daemon logs for it parses as that address again.
    for (const ntp::SocketAddress& address : c.server.listen) {
        if (address.port == 0) std::abort();
        sockaddr_storage bind{};
        const socklen_t len = io::to_sockaddr(address, bind);
        if (len == 0) std::abort();
        const auto back = io::from_sockaddr(reinterpret_cast<const sockaddr*>(&bind), len);
        if (!back || *back != ntp::SocketAddress{address.ip.unmapped(), address.port}) {
            std::abort();
        }
        const auto again = ntp::SocketAddress::parse(address.to_string(), 0);
        if (!again || *again != address) std::abort();
    }
    // The server object the daemon builds (its rate-limit table is allocated
    // up front: only small ones here, the size is not what is checked).
    if (c.server.enabled() &&
        (!c.server.rate_limit || c.server.rate_limit->memory_bytes <= (1u << 20))) {
        ntp::SplitMix64 random(1);
        const ntp::NtpServer server(c.server, random);
        (void)server;
    }
    return 0;
}
