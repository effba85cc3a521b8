// broker_transport.hpp - nanotimectl's HTTPS client for a fleet broker's
// operator API (daemon/broker/PROTOCOL.md, openapi.yaml): one request, one
// JSON answer, over libcurl (TLS 1.3 only, HTTPS only). Authentication is a
// bearer token or a client certificate issued by the broker's CA.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nanotime::ctl {

struct BrokerEndpoint {
    std::string url;             // "https://broker.example:4461"
    std::string token;           // Authorization: Bearer; or empty
    std::string certificate;     // PEM client certificate file; or empty
    std::string private_key;     // its PEM key file
    std::string ca_certificate;  // PEM trust anchors for the broker; empty: the system store
    int timeout_ms = 15000;      // the broker waits up to 10 s for a member's answer
};

struct BrokerReply {
    long status = 0;   // HTTP status
    std::string body;  // at most kMaxBrokerReply bytes
};

inline constexpr size_t kMaxBrokerReply = size_t{16} * 1024 * 1024;

// @method "GET", "POST", "DELETE"; @path from "/v1/..."; @body JSON or
// empty. nullopt when no HTTP answer came (and @error says why).
std::optional<BrokerReply> broker_call(const BrokerEndpoint& broker, std::string_view method,
                                       const std::string& path, const std::string& body,
                                       std::string* error);

// A control request through POST /v1/members/{member}/control: the
// member's control-socket response object (JSON text) as ctl::request()
// returns the local one; nullopt with @error on any failure (the broker's
// "error" text and status when it answered).
std::optional<std::string> broker_control(const BrokerEndpoint& broker, const std::string& member,
                                          const std::string& request, std::string* error);

// @segment percent-encoded for one path segment (RFC 3986 unreserved kept).
std::string path_segment(std::string_view segment);

// "401: no such token" from an error reply's JSON ({"error": ...}) or its text.
std::string describe_error(const BrokerReply& reply);

}  // namespace nanotime::ctl
