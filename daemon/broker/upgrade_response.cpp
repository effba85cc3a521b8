// upgrade_response.cpp - the broker's upgrade response (see upgrade_response.hpp).
#include "broker/upgrade_response.hpp"

#include <algorithm>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>

namespace nanotime::broker {
namespace http = boost::beast::http;

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Does the comma-separated header @value list @token (case-insensitive)?
bool lists_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const size_t comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (equals_ignoring_case(item, token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::string upgrade_request(const std::string& host, uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    const std::string authority =
        (v6 ? "[" + host + "]" : host) + (port == 443 ? "" : ":" + std::to_string(port));
    return "GET " + std::string(kSubscriptionPath) + " HTTP/1.1\r\nHost: " + authority +
           "\r\nConnection: Upgrade\r\nUpgrade: " + std::string(kSubscriptionUpgrade) + "\r\n\r\n";
}

UpgradeResponse::Status UpgradeResponse::feed(std::span<const uint8_t> data) {
    if (status_ != Status::NeedMore) return status_;
    buffer_.insert(buffer_.end(), data.begin(), data.end());
    // A fresh parser over everything received: the header is at most
    // kMaxHeaderBytes, so re-parsing costs little and keeps no parser state
    // between calls.
    http::response_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    parser.eager(false);
    parser.skip(true);  // the header only: a refusal's body is not read
    boost::system::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(buffer_.data(), buffer_.size()), ec);
    if (ec == http::error::need_more) {
        if (buffer_.size() > kMaxHeaderBytes) {
            status_ = Status::Malformed;
            reason_ = "upgrade response header above 8 KiB";
        }
        return status_;
    }
    if (ec || !parser.is_header_done()) {
        status_ = Status::Malformed;
        reason_ = "malformed upgrade response: " + ec.message();
        return status_;
    }
    const auto& h = parser.get();
    code_ = h.result_int();
    if (h.version() != 11) {
        status_ = Status::Malformed;
        reason_ = "upgrade response is not HTTP/1.1";
        return status_;
    }
    if (code_ != 101) {
        status_ = Status::Refused;
        reason_ = "broker refused the subscription: " + std::to_string(code_) + " " +
                  std::string(h.reason());
        return status_;
    }
    if (!lists_token(h[http::field::upgrade], kSubscriptionUpgrade) ||
        !lists_token(h[http::field::connection], "upgrade")) {
        status_ = Status::Malformed;
        reason_ = "101 without 'Upgrade: " + std::string(kSubscriptionUpgrade) + "'";
        return status_;
    }
    status_ = Status::Upgraded;
    leftover_.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(used), buffer_.end());
    buffer_.clear();
    buffer_.shrink_to_fit();
    return status_;
}

}  // namespace nanotime::broker
