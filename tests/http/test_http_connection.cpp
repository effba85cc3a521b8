// test_http_connection.cpp - http::ServerConnection fed bytes and times:
// requests out whole, responses in order, limits and deadlines.
#include <gtest/gtest.h>

#include <string>

#include "http/http_connection.hpp"

namespace nanotime::http {
namespace {

using namespace std::chrono_literals;
using namespace std::string_view_literals;

const Clock::time_point kT0{std::chrono::seconds(1000)};

std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Response ok(std::string body) {
    Response r;
    r.body = std::move(body);
    return r;
}

// An Upgrade: the 101 head goes out, the bytes after the request come back
// for the new protocol, and the HTTP side reads nothing more.
TEST(HttpConnection, HandOverReturnsTheBytesAfterTheRequest) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("GET /v1/subscribe HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x/1\r\n\r\n"
                    "\x00\x00\x00\x02{}"sv),
              kT0);
    ASSERT_TRUE(c.next_request());
    Response head;
    head.status = 101;
    head.headers = {{"Connection", "Upgrade"}, {"Upgrade", "x/1"}};
    EXPECT_EQ(c.hand_over(head), std::string("\x00\x00\x00\x02{}", 6));
    EXPECT_EQ(c.take_output(),
              "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x/1\r\n\r\n");
    c.receive(bytes("GET / HTTP/1.1\r\n\r\n"), kT0);
    EXPECT_FALSE(c.next_request());
    EXPECT_FALSE(c.deadline());
    EXPECT_FALSE(c.closing());
    EXPECT_EQ(c.hand_over(head), "") << "once";
}

TEST(HttpConnection, HandOverForAStreamWritesNoLength) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("GET /v1/events HTTP/1.1\r\n\r\n"), kT0);
    ASSERT_TRUE(c.next_request());
    Response head;
    head.content_type = "text/event-stream";
    EXPECT_EQ(c.hand_over(head), "");
    EXPECT_EQ(c.take_output(), "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
}

TEST(HttpConnection, SimpleGetKeepsAlive) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n"), kT0);
    auto r = c.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->method, "GET");
    EXPECT_EQ(r->target, "/metrics?x=1");
    EXPECT_EQ(r->path(), "/metrics");
    EXPECT_EQ(r->version, 11u);
    EXPECT_TRUE(r->keep_alive);
    EXPECT_EQ(r->header("accept"), "text/plain");
    EXPECT_FALSE(r->header("cookie"));
    EXPECT_FALSE(c.next_request());  // handed out once
    c.respond(ok("hi"), kT0);
    EXPECT_EQ(c.take_output(),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 2\r\n\r\nhi");
    EXPECT_FALSE(c.closing());
    EXPECT_EQ(c.take_output(), "");
}

TEST(HttpConnection, ByteByByteRequestWithBody) {
    ServerConnection c(Limits{}, kT0);
    const std::string req = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    for (size_t i = 0; i + 1 < req.size(); ++i) {
        c.receive(bytes(req.substr(i, 1)), kT0);
        EXPECT_FALSE(c.next_request()) << i;
    }
    c.receive(bytes(req.substr(req.size() - 1)), kT0);
    auto r = c.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello");
}

TEST(HttpConnection, ChunkedBodyIsDecoded) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"),
              kT0);
    auto r = c.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello world");
}

TEST(HttpConnection, PipelinedRequestsAnsweredInOrderOneInFlight) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                    "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
              kT0);
    auto a = c.next_request();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->target, "/a");
    EXPECT_FALSE(c.next_request());  // /b waits until /a is answered
    EXPECT_GT(c.buffered_bytes(), 0u);
    c.respond(ok("A"), kT0);
    auto b = c.next_request();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->target, "/b");
    c.respond(ok("B"), kT0);
    auto last = c.next_request();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->target, "/c");
    EXPECT_FALSE(last->keep_alive);
    c.respond(ok("C"), kT0);
    const std::string out = c.take_output();
    const size_t pa = out.find("\r\n\r\nA");
    const size_t pb = out.find("\r\n\r\nB");
    const size_t pc = out.find("Connection: close\r\n\r\nC");
    ASSERT_NE(pa, std::string::npos);
    ASSERT_NE(pb, std::string::npos);
    ASSERT_NE(pc, std::string::npos);
    EXPECT_LT(pa, pb);
    EXPECT_LT(pb, pc);
    EXPECT_TRUE(c.closing());
}

TEST(HttpConnection, Http10ClosesUnlessKeepAlive) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("GET / HTTP/1.0\r\n\r\n"), kT0);
    auto r = c.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->version, 10u);
    EXPECT_FALSE(r->keep_alive);
    c.respond(ok("x"), kT0);
    EXPECT_NE(c.take_output().find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(c.closing());

    ServerConnection k(Limits{}, kT0);
    k.receive(bytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), kT0);
    ASSERT_TRUE(k.next_request());
    k.respond(ok("x"), kT0);
    EXPECT_NE(k.take_output().find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_FALSE(k.closing());
}

void expect_error(ServerConnection& c, const char* status_line) {
    EXPECT_FALSE(c.next_request());
    const std::string out = c.take_output();
    EXPECT_EQ(out.rfind(status_line, 0), 0u) << out;
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
    EXPECT_TRUE(c.closing());
}

TEST(HttpConnection, MalformedRequestLineIs400) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("GET /\x01 HTTP/1.1\r\n\r\n"), kT0);
    expect_error(c, "HTTP/1.1 400 Bad Request\r\n");
}

TEST(HttpConnection, BadVersionAndBadContentLengthAre400) {
    for (const char* req : {"GET / HTTP/9.9x\r\n\r\n", "GARBAGE\r\n\r\n",
                            "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                            "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
                            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
        ServerConnection c(Limits{}, kT0);
        c.receive(bytes(req), kT0);
        expect_error(c, "HTTP/1.1 400 Bad Request\r\n");
    }
}

TEST(HttpConnection, OversizeHeaderIs431) {
    Limits l;
    l.max_header_bytes = 1024;
    ServerConnection c(l, kT0);
    c.receive(bytes("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"), kT0);
    expect_error(c, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    // The header never completes: the limit still fires on what arrived.
    ServerConnection d(l, kT0);
    d.receive(bytes("GET / HTTP/1.1\r\n"), kT0);
    for (int i = 0; i < 100 && !d.closing(); ++i) d.receive(bytes("X-Pad: 0123456789\r\n"), kT0);
    expect_error(d, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
}

TEST(HttpConnection, OversizeBodyIs413) {
    Limits l;
    l.max_body_bytes = 16;
    ServerConnection c(l, kT0);
    c.receive(bytes("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n"), kT0);
    expect_error(c, "HTTP/1.1 413 Content Too Large\r\n");
    ServerConnection d(l, kT0);
    d.receive(bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n"),
              kT0);
    expect_error(d, "HTTP/1.1 413 Content Too Large\r\n");
}

TEST(HttpConnection, TruncatedRequestAtEofIs400) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), kT0);
    EXPECT_FALSE(c.next_request());
    c.receive_eof();
    expect_error(c, "HTTP/1.1 400 Bad Request\r\n");

    ServerConnection idle(Limits{}, kT0);
    idle.receive_eof();  // nothing pending: close without a response
    EXPECT_TRUE(idle.closing());
    EXPECT_EQ(idle.take_output(), "");
}

TEST(HttpConnection, PipelinedBytesBeyondTheBufferAre400AfterOwedResponses) {
    Limits l;
    l.max_header_bytes = 256;
    l.max_buffered_bytes = 512;
    ServerConnection c(l, kT0);
    std::string many;
    while (many.size() < 2048) many += "GET /p HTTP/1.1\r\nHost: h\r\n\r\n";
    c.receive(bytes(many), kT0);
    EXPECT_LE(c.buffered_bytes(), 512u);
    int answered = 0;
    while (auto r = c.next_request()) {
        c.respond(ok("."), kT0);
        ++answered;
    }
    EXPECT_GT(answered, 0);
    const std::string out = c.take_output();
    EXPECT_NE(out.find("HTTP/1.1 400 Bad Request\r\n"), std::string::npos);
    EXPECT_LT(out.find("HTTP/1.1 200 OK"), out.find("HTTP/1.1 400"));
    EXPECT_TRUE(c.closing());
}

TEST(HttpConnection, SlowlorisGets408AtTheRequestDeadline) {
    Limits l;
    l.request_timeout = 2s;
    l.idle_timeout = 30s;
    ServerConnection c(l, kT0);
    EXPECT_EQ(c.deadline(), kT0 + 2s);  // a fresh connection owes a request
    c.receive(bytes("GET / HT"), kT0 + 1s);
    EXPECT_EQ(c.deadline(), kT0 + 2s);  // trickling bytes does not move it
    c.expire(kT0 + 1999ms);
    EXPECT_FALSE(c.closing());
    c.receive(bytes("TP/1.1\r\n"), kT0 + 1900ms);
    c.expire(kT0 + 2s);
    expect_error(c, "HTTP/1.1 408 Request Timeout\r\n");
    EXPECT_FALSE(c.deadline());
}

TEST(HttpConnection, IdleDeadlineBetweenRequestsClosesSilently) {
    Limits l;
    l.request_timeout = 2s;
    l.idle_timeout = 5s;
    ServerConnection c(l, kT0);
    c.receive(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), kT0);
    ASSERT_TRUE(c.next_request());
    EXPECT_FALSE(c.deadline());  // the handler has it
    c.respond(ok("x"), kT0 + 1s);
    (void)c.take_output();
    EXPECT_EQ(c.deadline(), kT0 + 6s);  // idle
    c.receive(bytes("G"), kT0 + 3s);
    EXPECT_EQ(c.deadline(), kT0 + 5s);  // a request started: request_timeout
    ServerConnection idle(l, kT0);
    idle.receive(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), kT0);
    ASSERT_TRUE(idle.next_request());
    idle.respond(ok("x"), kT0);
    (void)idle.take_output();
    idle.expire(kT0 + 5s);
    EXPECT_TRUE(idle.closing());
    EXPECT_EQ(idle.take_output(), "");
}

TEST(HttpConnection, HeadOnlyAndBodilessStatuses) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), kT0);
    ASSERT_TRUE(c.next_request());
    Response r = ok("12345");
    r.head_only = true;
    c.respond(r, kT0);
    const std::string out = c.take_output();
    EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
    EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(HttpConnection, NothingIsReadAfterClosing) {
    ServerConnection c(Limits{}, kT0);
    c.receive(bytes("BAD\x7f\r\n\r\n"), kT0);
    ASSERT_TRUE(c.closing());
    (void)c.take_output();
    c.receive(bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), kT0);
    EXPECT_FALSE(c.next_request());
    EXPECT_EQ(c.take_output(), "");
    EXPECT_EQ(c.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace nanotime::http
