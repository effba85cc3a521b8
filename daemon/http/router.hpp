// router.hpp - requests dispatched to handler objects by method and path.
//
// A service (the metrics exporter, the broker's operator API) registers one
// Handler per endpoint; unknown paths get 404, a known path with a method
// it has no handler for gets 405 with an Allow field, and HEAD is answered
// by the GET handler without the body (RFC 9110 §9.3.2).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "http/http_connection.hpp"

namespace nanotime::http {

class Handler {
  public:
    virtual ~Handler() = default;
    virtual Response handle(const Request& request) = 0;
};

class Router {
  public:
    // @path is matched exactly against the request's path (query removed).
    // A second handler for the same method and path replaces the first.
    void add(std::string method, std::string path, std::shared_ptr<Handler> handler);
    Response route(const Request& request) const;

  private:
    // path → method → handler; ordered so Allow lists methods in order.
    std::map<std::string, std::map<std::string, std::shared_ptr<Handler>>, std::less<>> routes_;
};

}  // namespace nanotime::http
