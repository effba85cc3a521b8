// router.cpp - method + path dispatch (see router.hpp).
#include "http/router.hpp"

namespace nanotime::http {

void Router::add(std::string method, std::string path, std::shared_ptr<Handler> handler) {
    routes_[std::move(path)][std::move(method)] = std::move(handler);
}

Response Router::route(const Request& request) const {
    const auto by_path = routes_.find(request.path());
    if (by_path == routes_.end()) {
        Response r;
        r.status = 404;
        r.body = "no resource at " + std::string(request.path()) + "\n";
        return r;
    }
    const auto& methods = by_path->second;
    const bool head = request.method == "HEAD";
    const auto found = methods.find(head && !methods.contains("HEAD") ? "GET" : request.method);
    if (found == methods.end()) {
        Response r;
        r.status = 405;
        std::string allow;
        for (const auto& [method, handler] : methods) {
            allow += (allow.empty() ? "" : ", ") + method;
            if (method == "GET" && !methods.contains("HEAD")) allow += ", HEAD";
        }
        r.headers.emplace_back("Allow", allow);
        r.body = request.method + " is not allowed on " + by_path->first + "\n";
        return r;
    }
    Response r = found->second->handle(request);
    if (head) r.head_only = true;
    return r;
}

}  // namespace nanotime::http
