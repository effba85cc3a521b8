// router.hpp - requests dispatched to handler objects by method and path.
//
// A service (the metrics exporter, the broker's operator API) registers one
// handler object per endpoint; unknown paths get 404, a known path with a
// method it has no handler for gets 405 with an Allow field, and HEAD is
// answered by the GET handler without the body (RFC 9110 §9.3.2).
//
// Paths are matched exactly, or against a pattern whose "{name}" segments
// each match one non-empty path segment ("/v1/members/{name}"); an exact
// path wins over a pattern, and patterns are tried in registration order.
// BasicRouter is the table for any handler type (the broker's endpoints
// take the authenticated caller too); Router is the one for http::Handler.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_connection.hpp"

namespace nanotime::http {

class Handler {
  public:
    virtual ~Handler() = default;
    virtual Response handle(const Request& request) = 0;
};

// Does @path match @pattern? Fills @params with the "{...}" segments' values.
bool match_path(std::string_view pattern, std::string_view path, std::vector<std::string>& params);
// The 404 / 405 answers.
Response not_found(std::string_view path);
Response method_not_allowed(std::string_view method, std::string_view pattern,
                            const std::vector<std::string>& methods);

template <typename HandlerT>
class BasicRouter {
  public:
    // A second handler for the same method and path replaces the first.
    void add(std::string method, std::string path, std::shared_ptr<HandlerT> handler) {
        auto it = routes_.begin();
        while (it != routes_.end() && it->path != path) ++it;
        if (it == routes_.end()) {
            routes_.push_back(Route{path, path.find('{') != std::string::npos, {}});
            it = std::prev(routes_.end());
        }
        it->methods[std::move(method)] = std::move(handler);
    }

    struct Lookup {
        HandlerT* handler = nullptr;      // null: answer with error
        std::string pattern;              // the registered path that matched
        std::vector<std::string> params;  // its "{...}" segments, in order
        bool head = false;                // HEAD served by the GET handler: no body
        Response error;                   // 404 or 405
    };

    Lookup find(std::string_view method, std::string_view path) const {
        Lookup l;
        const Route* route = nullptr;
        for (const Route& r : routes_) {
            if (!r.pattern && r.path == path) route = &r;
        }
        for (size_t i = 0; route == nullptr && i < routes_.size(); ++i) {
            l.params.clear();
            if (routes_[i].pattern && match_path(routes_[i].path, path, l.params))
                route = &routes_[i];
        }
        if (route == nullptr) {
            l.params.clear();
            l.error = not_found(path);
            return l;
        }
        l.pattern = route->path;
        const auto& methods = route->methods;
        l.head = method == "HEAD" && !methods.contains("HEAD");
        const auto found = methods.find(l.head ? std::string_view("GET") : method);
        if (found == methods.end()) {
            std::vector<std::string> names;
            for (const auto& [name, handler] : methods) names.push_back(name);
            l.error = method_not_allowed(method, route->path, names);
            return l;
        }
        l.handler = found->second.get();
        return l;
    }

    // Every (path, method) registered, in path registration order.
    std::vector<std::pair<std::string, std::string>> routes() const {
        std::vector<std::pair<std::string, std::string>> out;
        for (const Route& r : routes_) {
            for (const auto& [method, handler] : r.methods) out.emplace_back(r.path, method);
        }
        return out;
    }

  private:
    struct Route {
        std::string path;
        bool pattern;
        // method → handler; ordered so Allow lists methods in order.
        std::map<std::string, std::shared_ptr<HandlerT>, std::less<>> methods;
    };
    std::vector<Route> routes_;
};

class Router : public BasicRouter<Handler> {
  public:
    Response route(const Request& request) const;
};

}  // namespace nanotime::http
