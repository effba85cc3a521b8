// dashboard.cpp - serves the dashboard's compiled-in files (dashboard.hpp).
#include "broker/dashboard.hpp"

#include <string>

namespace nanotime::broker {
namespace {

std::string_view content_type_of(std::string_view name) {
    const auto ends_with = [name](std::string_view suffix) { return name.ends_with(suffix); };
    if (ends_with(".html")) return "text/html; charset=utf-8";
    if (ends_with(".js")) return "text/javascript; charset=utf-8";
    if (ends_with(".css")) return "text/css; charset=utf-8";
    if (ends_with(".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

void add_security_headers(http::Response& r) {
    r.headers.emplace_back("Content-Security-Policy", std::string(kDashboardPolicy));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    // Revalidated on every load: an upgraded binary's page is seen at once.
    r.headers.emplace_back("Cache-Control", "no-cache");
}

}  // namespace

std::optional<http::Response> serve_dashboard(const http::Request& request) {
    if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
    const std::string_view path = request.path();
    http::Response r;
    r.head_only = request.method == "HEAD";
    if (path == kDashboardPath.substr(0, kDashboardPath.size() - 1)) {
        r.status = 308;
        r.headers.emplace_back("Location", std::string(kDashboardPath));
        add_security_headers(r);
        return r;
    }
    if (!path.starts_with(kDashboardPath)) return std::nullopt;
    std::string_view name = path.substr(kDashboardPath.size());
    if (name.empty()) name = "index.html";
    for (const EmbeddedFile& f : embedded_files()) {
        if (f.name != name) continue;
        r.content_type = content_type_of(f.name);
        r.body = f.bytes;
        add_security_headers(r);
        return r;
    }
    return std::nullopt;
}

}  // namespace nanotime::broker
