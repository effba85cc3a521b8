// http_connection.cpp - one HTTP/1.1 server connection over Boost.Beast's
// request parser (see http_connection.hpp). The only file that includes
// Beast: its headers cost seconds of compile time per translation unit.
#include "http/http_connection.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>

namespace nanotime::http {
namespace bhttp = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

// Statuses that carry no body (RFC 9110 §6.4.1).
bool bodiless(unsigned status) {
    return status < 200 || status == 204 || status == 304;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) return std::string_view(v);
    }
    return std::nullopt;
}

std::string_view Request::path() const {
    const std::string_view t = target;
    return t.substr(0, t.find('?'));
}

const char* reason_phrase(unsigned status) {
    switch (status) {
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 308:
            return "Permanent Redirect";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Unknown";
    }
}

Response error_response(unsigned status, std::string_view detail) {
    Response r;
    r.status = status;
    r.body = std::string(reason_phrase(status)) + ": " + std::string(detail) + "\n";
    r.close = true;
    return r;
}

struct ServerConnection::Parser {
    bhttp::request_parser<bhttp::string_body> parser;
};

ServerConnection::ServerConnection(const Limits& limits, Clock::time_point now)
    : limits_(limits), phase_start_(now) {
    // A whole header must fit in the unparsed buffer (Beast parses a header
    // only once all of it is there).
    limits_.max_buffered_bytes = std::max(limits_.max_buffered_bytes, limits_.max_header_bytes + 1);
    message_started_ = true;  // a fresh connection owes a request (request_timeout)
}

ServerConnection::~ServerConnection() = default;

void ServerConnection::start_message() {
    parser_ = std::make_unique<Parser>();
    parser_->parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->parser.body_limit(limits_.max_body_bytes);
    parser_->parser.eager(true);
}

void ServerConnection::receive(std::span<const uint8_t> bytes, Clock::time_point now) {
    if (closing_ || handed_over_ || peer_closed_ || bytes.empty()) return;
    if (!message_started_ && !in_flight_ && !ready_) {
        message_started_ = true;
        phase_start_ = now;
    }
    const size_t room =
        limits_.max_buffered_bytes - std::min(limits_.max_buffered_bytes, input_.size());
    const size_t take = std::min(room, bytes.size());
    input_.append(reinterpret_cast<const char*>(bytes.data()), take);
    if (take < bytes.size()) overflow_ = true;
    parse();
}

void ServerConnection::receive_eof() {
    if (closing_) return;
    peer_closed_ = true;
    parse();
}

void ServerConnection::parse() {
    while (!closing_ && !in_flight_ && !ready_) {
        const bool partial = !input_.empty() || (parser_ && parser_->parser.got_some());
        if (input_.empty()) {
            if (overflow_) return fail(400, "more request bytes than the connection buffers");
            if (peer_closed_) {
                if (partial) return fail(400, "truncated request");
                closing_ = true;
            }
            return;
        }
        if (!parser_) start_message();
        boost::beast::error_code ec;
        const size_t used =
            parser_->parser.put(boost::asio::const_buffer(input_.data(), input_.size()), ec);
        input_.erase(0, used);
        if (ec == bhttp::error::need_more) {
            if (overflow_) return fail(400, "more request bytes than the connection buffers");
            if (peer_closed_) return fail(400, "truncated request");
            return;
        }
        if (ec == bhttp::error::header_limit)
            return fail(
                431, "the header exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
        if (ec == bhttp::error::body_limit)
            return fail(413,
                        "the body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
        if (ec) return fail(400, ec.message());
        if (parser_->parser.is_done()) {
            auto message = parser_->parser.release();
            parser_.reset();
            Request r;
            r.method = std::string(message.method_string());
            r.target = std::string(message.target());
            r.version = message.version();
            for (const auto& field : message)
                r.headers.emplace_back(std::string(field.name_string()),
                                       std::string(field.value()));
            r.body = std::move(message.body());
            r.keep_alive = message.keep_alive();
            ready_ = std::move(r);
            message_started_ = false;
            return;
        }
        if (used == 0) return;  // nothing consumed, nothing done: wait for bytes
    }
}

// parse() runs only with no request ready or in flight: no response is
// owed before this one.
void ServerConnection::fail(unsigned status, std::string_view detail) {
    write_response(error_response(status, detail), 11, false);
}

std::optional<Request> ServerConnection::next_request() {
    if (!ready_) return std::nullopt;
    std::optional<Request> r = std::move(ready_);
    ready_.reset();
    in_flight_ = true;
    in_flight_version_ = r->version;
    in_flight_keep_alive_ = r->keep_alive;
    return r;
}

void ServerConnection::respond(const Response& response, Clock::time_point now) {
    if (!in_flight_) return;
    in_flight_ = false;
    write_response(response, in_flight_version_, in_flight_keep_alive_);
    phase_start_ = now;
    // Bytes of the next request are here already: its time runs from now.
    message_started_ = !input_.empty();
    parse();
}

void ServerConnection::write_response(const Response& r, unsigned version, bool keep_alive) {
    const bool close = r.close || !keep_alive;
    output_ += "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
    if (!bodiless(r.status)) {
        output_ += "Content-Type: " + r.content_type + "\r\n";
        output_ += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    for (const auto& [name, value] : r.headers) {
        output_ += name;
        output_ += ": ";
        output_ += value;
        output_ += "\r\n";
    }
    if (close)
        output_ += "Connection: close\r\n";
    else if (version == 10)
        output_ += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told
    output_ += "\r\n";
    if (!bodiless(r.status) && !r.head_only) output_ += r.body;
    if (close) {
        closing_ = true;
        input_.clear();
        parser_.reset();
    }
}

std::string ServerConnection::hand_over(const Response& head) {
    if (!in_flight_ || handed_over_) return {};
    in_flight_ = false;
    handed_over_ = true;
    output_ +=
        "HTTP/1.1 " + std::to_string(head.status) + " " + reason_phrase(head.status) + "\r\n";
    if (!bodiless(head.status)) output_ += "Content-Type: " + head.content_type + "\r\n";
    for (const auto& [name, value] : head.headers) {
        output_ += name;
        output_ += ": ";
        output_ += value;
        output_ += "\r\n";
    }
    output_ += "\r\n";
    parser_.reset();
    return std::exchange(input_, std::string());
}

std::string ServerConnection::take_output() {
    return std::exchange(output_, std::string());
}

std::optional<Clock::time_point> ServerConnection::deadline() const {
    if (closing_ || handed_over_ || in_flight_ || ready_) return std::nullopt;
    return phase_start_ + (message_started_ ? limits_.request_timeout : limits_.idle_timeout);
}

void ServerConnection::expire(Clock::time_point now) {
    const std::optional<Clock::time_point> due = deadline();
    if (!due || now < *due) return;
    if (message_started_)
        fail(408, "the request did not arrive within " +
                      std::to_string(limits_.request_timeout.count()) + " ms");
    else
        closing_ = true;
}

}  // namespace nanotime::http
