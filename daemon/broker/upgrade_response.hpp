// upgrade_response.hpp - the broker's answer to the subscriber's
// "GET /v1/subscribe" upgrade request, sans-IO: bytes in, the verdict out.
//
// The response header is parsed with Boost.Beast's http::response_parser
// (in upgrade_response.cpp only, so no other file pays Beast's compile
// time). "101 Switching Protocols" with "Upgrade: nanotime-subscription/1"
// is success; the bytes after the header already belong to the framed
// channel and are handed back. Any other status is a refusal (401/403: the
// broker does not accept this member's certificate). Header bytes above
// kMaxHeaderBytes, or anything that is not HTTP/1.1, are malformed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "broker/subscription_messages.hpp"

namespace nanotime::broker {

// The request the subscriber sends first, for broker @host (as in the URL).
std::string upgrade_request(const std::string& host, uint16_t port);

class UpgradeResponse {
  public:
    enum class Status { NeedMore, Upgraded, Refused, Malformed };
    static constexpr size_t kMaxHeaderBytes = size_t{8} * 1024;

    // Feeds received bytes; once the status is no longer NeedMore further
    // bytes are ignored.
    Status feed(std::span<const uint8_t> data);
    Status status() const { return status_; }
    unsigned status_code() const { return code_; }  // 0 until a status line parsed
    // Refused / Malformed: one line for the log.
    const std::string& reason() const { return reason_; }
    // Upgraded: bytes received after the header (the first frames).
    std::vector<uint8_t>& leftover() { return leftover_; }

  private:
    Status status_ = Status::NeedMore;
    unsigned code_ = 0;
    std::string reason_;
    std::vector<uint8_t> buffer_;
    std::vector<uint8_t> leftover_;
};

}  // namespace nanotime::broker
