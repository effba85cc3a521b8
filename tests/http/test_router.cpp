// test_router.cpp - http::Router: handlers by method and path, 404, 405 with
// Allow, HEAD through the GET handler.
#include <gtest/gtest.h>

#include "http/router.hpp"

namespace nanotime::http {
namespace {

class Echo final : public Handler {
  public:
    explicit Echo(std::string tag) : tag_(std::move(tag)) {}
    Response handle(const Request& request) override {
        ++calls;
        Response r;
        r.body = tag_ + " " + request.method + " " + request.target;
        return r;
    }
    int calls = 0;

  private:
    std::string tag_;
};

Request request(std::string method, std::string target) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    return r;
}

TEST(HttpRouter, DispatchesByMethodAndPath) {
    Router router;
    auto get = std::make_shared<Echo>("get");
    auto post = std::make_shared<Echo>("post");
    router.add("GET", "/metrics", get);
    router.add("POST", "/metrics", post);
    EXPECT_EQ(router.route(request("GET", "/metrics?a=b")).body, "get GET /metrics?a=b");
    EXPECT_EQ(router.route(request("POST", "/metrics")).body, "post POST /metrics");
    EXPECT_EQ(get->calls, 1);
    EXPECT_EQ(post->calls, 1);
}

TEST(HttpRouter, UnknownPathIs404) {
    Router router;
    router.add("GET", "/metrics", std::make_shared<Echo>("m"));
    const Response r = router.route(request("GET", "/metricsx"));
    EXPECT_EQ(r.status, 404u);
    EXPECT_FALSE(r.close);
}

TEST(HttpRouter, WrongMethodIs405WithAllow) {
    Router router;
    router.add("GET", "/metrics", std::make_shared<Echo>("m"));
    router.add("PUT", "/metrics", std::make_shared<Echo>("m"));
    const Response r = router.route(request("DELETE", "/metrics"));
    EXPECT_EQ(r.status, 405u);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "Allow");
    EXPECT_EQ(r.headers[0].second, "GET, HEAD, PUT");
}

TEST(HttpRouter, HeadUsesGetWithoutBody) {
    Router router;
    auto get = std::make_shared<Echo>("g");
    router.add("GET", "/m", get);
    const Response r = router.route(request("HEAD", "/m"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(r.head_only);
    EXPECT_EQ(r.body, "g HEAD /m");  // the length Content-Length states
    EXPECT_EQ(get->calls, 1);
}

TEST(HttpRouter, LaterRegistrationReplaces) {
    Router router;
    router.add("GET", "/m", std::make_shared<Echo>("old"));
    router.add("GET", "/m", std::make_shared<Echo>("new"));
    EXPECT_EQ(router.route(request("GET", "/m")).body, "new GET /m");
}

TEST(HttpRouter, PatternSegmentsMatchOneSegment) {
    BasicRouter<Echo> router;
    auto member = std::make_shared<Echo>("member");
    auto control = std::make_shared<Echo>("control");
    auto list = std::make_shared<Echo>("list");
    router.add("GET", "/v1/members/{name}", member);
    router.add("POST", "/v1/members/{name}/control", control);
    router.add("GET", "/v1/members", list);
    auto l = router.find("GET", "/v1/members/ntp1");
    EXPECT_EQ(l.handler, member.get());
    EXPECT_EQ(l.pattern, "/v1/members/{name}");
    EXPECT_EQ(l.params, std::vector<std::string>{"ntp1"});
    l = router.find("POST", "/v1/members/ntp1/control");
    EXPECT_EQ(l.handler, control.get());
    EXPECT_EQ(l.params, std::vector<std::string>{"ntp1"});
    EXPECT_EQ(router.find("GET", "/v1/members").handler, list.get()) << "exact path";
    EXPECT_EQ(router.find("GET", "/v1/members/").error.status, 404u) << "empty segment";
    EXPECT_EQ(router.find("GET", "/v1/members/a/b").error.status, 404u);
    EXPECT_TRUE(router.find("GET", "/v1/members/a/b").params.empty());
    l = router.find("DELETE", "/v1/members/x/control");
    EXPECT_EQ(l.handler, nullptr);
    EXPECT_EQ(l.error.status, 405u);
    EXPECT_EQ(l.error.headers.at(0).second, "POST");
}

TEST(HttpRouter, RoutesListsEveryPathAndMethod) {
    Router router;
    router.add("GET", "/a", std::make_shared<Echo>("x"));
    router.add("POST", "/a", std::make_shared<Echo>("x"));
    router.add("GET", "/b/{id}", std::make_shared<Echo>("x"));
    using Route = std::pair<std::string, std::string>;
    EXPECT_EQ(router.routes(),
              (std::vector<Route>{{"/a", "GET"}, {"/a", "POST"}, {"/b/{id}", "GET"}}));
}

}  // namespace
}  // namespace nanotime::http
