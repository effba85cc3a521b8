// dashboard.hpp - the broker's web dashboard (daemon/broker/dashboard/):
// the page, its script and style sheet, served under /dashboard/ from
// copies compiled into the binary.
//
// Why compiled in rather than read from a configured directory: the page
// speaks the /v1 API of the binary it ships with, so the two can never be
// out of step after an upgrade; there is no path to configure, install or
// get wrong; and the broker thread opens no file after start-up (seccomp,
// no directory traversal to defend against). The files are ~21 KiB.
//
// The files are served to anyone, before authentication: they are the
// same public code as in the source tree and hold no fleet data, and a
// browser's navigation cannot carry the bearer token. Every byte of fleet
// data the page shows comes from /v1 (members, events) with the caller's
// credentials: a client certificate the browser presents, or the bearer
// token typed into the page, kept in the page's memory only and sent as
// an Authorization header by fetch(), never in a URL or a cookie.
//
// Every response carries a Content-Security-Policy that allows only the
// page's own script, style and /v1 (no inline script, no other origin, no
// framing), and X-Content-Type-Options: nosniff.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "http/http_connection.hpp"

namespace nanotime::broker {

inline constexpr std::string_view kDashboardPath = "/dashboard/";
inline constexpr std::string_view kDashboardPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// One file compiled into the binary (cmake/EmbedFiles.cmake).
struct EmbeddedFile {
    std::string_view name;  // base name: "index.html"
    std::string_view bytes;
};
// The dashboard's files (generated dashboard_files.cpp).
std::span<const EmbeddedFile> embedded_files();

// The response for a GET or HEAD of a dashboard file ("/dashboard" redirects
// to "/dashboard/", which is index.html); nothing for any other request,
// which then goes through authentication like every /v1 call.
std::optional<http::Response> serve_dashboard(const http::Request& request);

}  // namespace nanotime::broker
