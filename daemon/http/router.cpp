// router.cpp - method + path dispatch (see router.hpp).
#include "http/router.hpp"

#include <algorithm>

namespace nanotime::http {

bool match_path(std::string_view pattern, std::string_view path, std::vector<std::string>& params) {
    while (!pattern.empty() && !path.empty()) {
        if (pattern.front() != '/' || path.front() != '/') return false;
        pattern.remove_prefix(1);
        path.remove_prefix(1);
        const size_t p_end = std::min(pattern.find('/'), pattern.size());
        const size_t s_end = std::min(path.find('/'), path.size());
        const std::string_view p = pattern.substr(0, p_end);
        const std::string_view s = path.substr(0, s_end);
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
            if (s.empty()) return false;
            params.emplace_back(s);
        } else if (p != s) {
            return false;
        }
        pattern.remove_prefix(p_end);
        path.remove_prefix(s_end);
    }
    return pattern.empty() && path.empty();
}

Response not_found(std::string_view path) {
    Response r;
    r.status = 404;
    r.body = "no resource at " + std::string(path) + "\n";
    return r;
}

Response method_not_allowed(std::string_view method, std::string_view pattern,
                            const std::vector<std::string>& methods) {
    Response r;
    r.status = 405;
    std::string allow;
    const bool has_head =
        std::find(methods.begin(), methods.end(), std::string("HEAD")) != methods.end();
    for (const auto& m : methods) {
        allow += (allow.empty() ? "" : ", ") + m;
        if (m == "GET" && !has_head) allow += ", HEAD";
    }
    r.headers.emplace_back("Allow", allow);
    r.body = std::string(method) + " is not allowed on " + std::string(pattern) + "\n";
    return r;
}

Response Router::route(const Request& request) const {
    const Lookup l = find(request.method, request.path());
    if (l.handler == nullptr) return l.error;
    Response r = l.handler->handle(request);
    if (l.head) r.head_only = true;
    return r;
}

}  // namespace nanotime::http
