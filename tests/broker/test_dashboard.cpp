// The broker's dashboard (daemon/broker/dashboard.hpp) through the /v1 API
// object, without sockets: its files are served to anyone with the right
// content types and security headers, the page loads nothing it is not
// served and has no inline script or style, and the fleet data it shows
// stays behind authentication.
#include <regex>

#include "broker/dashboard.hpp"
#include "broker_fixture.hpp"

namespace nanotime::broker::testing {
namespace {

using DashboardTest = BrokerFixture;

std::string header_of(const http::Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return {};
}

void expect_security_headers(const http::Response& r) {
    EXPECT_EQ(header_of(r, "Content-Security-Policy"), kDashboardPolicy);
    EXPECT_EQ(header_of(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header_of(r, "X-Frame-Options"), "DENY");
    EXPECT_EQ(header_of(r, "Referrer-Policy"), "no-referrer");
}

TEST_F(DashboardTest, FilesAreServedWithoutCredentialsWithTheirTypes) {
    const std::pair<std::string, std::string> files[] = {
        {"/dashboard/", "text/html; charset=utf-8"},
        {"/dashboard/index.html", "text/html; charset=utf-8"},
        {"/dashboard/dashboard.js", "text/javascript; charset=utf-8"},
        {"/dashboard/dashboard.css", "text/css; charset=utf-8"},
        {"/dashboard/favicon.svg", "image/svg+xml"},
    };
    for (const auto& [path, type] : files) {
        SCOPED_TRACE(path);
        const auto r = call("GET", path);
        EXPECT_EQ(r->status, 200u);
        EXPECT_EQ(r->response.content_type, type);
        EXPECT_GT(r->response.body.size(), 100u);
        EXPECT_FALSE(r->response.head_only);
        expect_security_headers(r->response);
    }
    EXPECT_EQ(call("GET", "/dashboard/")->response.body,
              call("GET", "/dashboard/index.html")->response.body);
    EXPECT_TRUE(audit_log().empty()) << "public files are no login attempt";
}

TEST_F(DashboardTest, HeadHasTheHeadersAndNoBody) {
    const auto r = call("HEAD", "/dashboard/dashboard.js");
    EXPECT_EQ(r->status, 200u);
    EXPECT_TRUE(r->response.head_only);
    EXPECT_EQ(r->response.content_type, "text/javascript; charset=utf-8");
    expect_security_headers(r->response);
}

TEST_F(DashboardTest, TheBarePathRedirectsToTheDirectory) {
    const auto r = call("GET", "/dashboard?x=1");
    EXPECT_EQ(r->status, 308u);
    EXPECT_EQ(header_of(r->response, "Location"), "/dashboard/");
}

TEST_F(DashboardTest, AnythingElseNeedsAuthentication) {
    // Unknown files, other methods and the API data the page reads: 401
    // without credentials, as every /v1 path.
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/dashboard/secret.txt"},
                                                          {"GET", "/dashboard/../v1/members"},
                                                          {"POST", "/dashboard/"},
                                                          {"GET", "/"},
                                                          {"GET", "/v1/whoami"},
                                                          {"GET", "/v1/members"},
                                                          {"GET", "/v1/members/ntp1"},
                                                          {"GET", "/v1/events"}}) {
        SCOPED_TRACE(method + " " + path);
        const auto r = call(method, path);
        EXPECT_EQ(r->status, 401u);
        EXPECT_EQ(header_of(r->response, "WWW-Authenticate"), "Bearer realm=\"nanotime broker\"");
    }
}

TEST_F(DashboardTest, RateLimitedAddressesGetNoPageEither) {
    for (unsigned i = 0; i < kMaxLoginFailures; ++i) call("GET", "/v1/whoami", "", "nt1.1.wrong");
    EXPECT_EQ(call("GET", "/dashboard/")->status, 429u);
}

TEST_F(DashboardTest, ThePageLoadsOnlyServedFilesAndHasNoInlineScriptOrStyle) {
    const std::string html = call("GET", "/dashboard/")->response.body;
    const std::regex reference(R"re(\b(?:src|href)="([^"]*)")re");
    unsigned references = 0;
    for (auto it = std::sregex_iterator(html.begin(), html.end(), reference);
         it != std::sregex_iterator(); ++it) {
        const std::string target = (*it)[1];
        SCOPED_TRACE(target);
        ++references;
        EXPECT_EQ(target.find(':'), std::string::npos) << "no other origin, no data: URL";
        EXPECT_EQ(call("GET", "/dashboard/" + target)->status, 200u);
    }
    EXPECT_EQ(references, 3u);  // favicon, style sheet, script
    const std::regex inline_script(R"(<script(?![^>]*\bsrc=))");
    EXPECT_FALSE(std::regex_search(html, inline_script));
    EXPECT_EQ(html.find("<style"), std::string::npos);
    EXPECT_EQ(html.find(" style="), std::string::npos);
    const std::regex inline_handler(R"(<[^>]*\son[a-z]+=)");
    EXPECT_FALSE(std::regex_search(html, inline_handler)) << "no inline event handler";
}

TEST_F(DashboardTest, TheFleetListCarriesTheBrokerClockAndStateInterval) {
    // The page tells a stale member by them.
    const auto r = call("GET", "/v1/members", "", monitor_);
    ASSERT_EQ(r->status, 200u);
    EXPECT_EQ(r->body["now"], now_s());
    EXPECT_EQ(r->body["state_interval"], 5);
}

}  // namespace
}  // namespace nanotime::broker::testing
