// http_connection.hpp - one HTTP/1.1 server connection, sans-IO: bytes in →
// complete requests (method, target, headers, body) → response bytes out.
//
// The parsing is Boost.Beast's http::request_parser (README.md says why),
// driven incrementally with put() in http_connection.cpp only, so no other
// file pays Beast's compile time.
//
// Semantics:
//  * keep-alive: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
//    "Connection: keep-alive"; a response to a request that did not keep
//    the connection alive carries "Connection: close" and closing() turns
//    true;
//  * pipelining: one request in flight. Bytes after it stay buffered,
//    unparsed, until respond(); then the next request is parsed, so
//    responses go out in request order;
//  * limits: header bytes (431), body bytes (413), malformed or truncated
//    (400), bytes buffered unparsed behind the request in flight (400):
//    each answered with a short text body and "Connection: close", after
//    the responses owed to earlier requests;
//  * deadlines: deadline() is when the loop must call expire(): from the
//    connection's start (or the first byte of a request after a response)
//    a request has request_timeout to arrive whole (slowloris: 408 and
//    close), and between requests the connection may sit idle for
//    idle_timeout (then closed without a response). No deadline while a
//    request is in flight: the handler is ours.
//
// Memory: the unparsed input (at most max_buffered_bytes), the parser's
// message (at most max_header_bytes + max_body_bytes) and the output the
// loop has not taken yet.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nanotime::http {

using Clock = std::chrono::steady_clock;

struct Limits {
    size_t max_header_bytes = size_t{8} * 1024;  // request line and header fields
    size_t max_body_bytes = size_t{64} * 1024;   // decoded body (chunked: the data only)
    // Received bytes held unparsed behind the request in flight (pipelined).
    size_t max_buffered_bytes = size_t{64} * 1024;
    std::chrono::milliseconds request_timeout{10'000};  // first byte → whole request
    std::chrono::milliseconds idle_timeout{30'000};     // between requests
};

struct Request {
    std::string method;                                        // as sent, e.g. "GET"
    std::string target;                                        // e.g. "/metrics?x=1"
    unsigned version = 11;                                     // 10 or 11
    std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
    std::string body;                                          // decoded (chunked framing removed)
    bool keep_alive = true;

    // The first field named @name (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    // The target without its query string.
    std::string_view path() const;
};

struct Response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra fields
    bool close = false;      // close the connection after this response
    bool head_only = false;  // HEAD: Content-Length of the body, no body bytes
};

// "Not Found" for 404, ... ("Unknown" for a code not listed).
const char* reason_phrase(unsigned status);
// A short text response with "Connection: close" (errors from the parser).
Response error_response(unsigned status, std::string_view detail);

class ServerConnection {
  public:
    ServerConnection(const Limits& limits, Clock::time_point now);
    ~ServerConnection();
    ServerConnection(const ServerConnection&) = delete;
    ServerConnection& operator=(const ServerConnection&) = delete;

    // Bytes received at @now. Ignored once closing().
    void receive(std::span<const uint8_t> bytes, Clock::time_point now);
    // The peer closed its side: a partial request is dropped, the
    // connection closes once the owed responses are out.
    void receive_eof();
    // The next complete request, once; then none until respond().
    std::optional<Request> next_request();
    // The response to the request in flight, at @now.
    void respond(const Response& response, Clock::time_point now);
    // Response bytes to send, in order (the buffer is handed over).
    std::string take_output();

    // Hands the connection over to another protocol: an Upgrade (101) or a
    // response whose body streams until the connection closes (Server-Sent
    // Events). Writes @head's status line and fields as the response to
    // the request in flight (no Content-Length; its body is not sent) and
    // returns the bytes received after that request, which belong to the
    // new protocol. From then on the object takes no input and has no
    // deadline; the service owns the stream.
    std::string hand_over(const Response& head);

    // When expire() must be called, if at all.
    std::optional<Clock::time_point> deadline() const;
    // At or after deadline(): a partial request is answered 408 and the
    // connection closes; an idle one just closes.
    void expire(Clock::time_point now);

    // No more requests will be read: close once take_output() is sent.
    bool closing() const { return closing_; }
    bool request_in_flight() const { return in_flight_; }
    size_t buffered_bytes() const { return input_.size(); }

  private:
    void parse();
    void fail(unsigned status, std::string_view detail);
    void start_message();
    void write_response(const Response& r, unsigned version, bool keep_alive);

    struct Parser;  // Boost.Beast's request_parser (http_connection.cpp)

    Limits limits_;
    std::unique_ptr<Parser> parser_;
    std::string input_;             // received, not yet consumed by the parser
    std::string output_;            // response bytes not yet taken
    std::optional<Request> ready_;  // parsed, not yet handed out
    bool in_flight_ = false;        // handed out, not yet answered
    unsigned in_flight_version_ = 11;
    bool in_flight_keep_alive_ = true;
    bool closing_ = false;
    bool handed_over_ = false;
    bool overflow_ = false;  // input beyond max_buffered_bytes was dropped
    bool peer_closed_ = false;
    bool message_started_ = false;   // bytes of the next request received
    Clock::time_point phase_start_;  // connection start / first byte / last response
};

}  // namespace nanotime::http
