// Fuzz target: the HTTP/1.1 server connection (daemon/http) as any client
// of the metrics exporter or the broker can drive it: a peer's bytes cut
// into chunks, each complete request routed and answered, deadlines
// expiring in between. The first input byte picks the chunk size, whether
// time runs out mid-stream, and whether the peer half-closes at the end.
// Checks: the unparsed buffer stays within its limit, requests within the
// header and body limits, every output starts with a status line, nothing
// is read or answered once the connection is closing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "http/http_connection.hpp"
#include "http/router.hpp"

using namespace nanotime::http;

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

class Echo final : public Handler {
  public:
    Response handle(const Request& request) override {
        Response r;
        r.body = request.method + " " + request.target + " " + std::to_string(request.body.size());
        return r;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t control = data[0];
    const std::span<const uint8_t> rest(data + 1, size - 1);
    static const Router router = [] {
        Router r;
        r.add("GET", "/metrics", std::make_shared<Echo>());
        r.add("POST", "/api", std::make_shared<Echo>());
        return r;
    }();
    Limits limits;
    limits.max_header_bytes = 512;
    limits.max_body_bytes = 1024;
    limits.max_buffered_bytes = 2048;
    limits.request_timeout = std::chrono::milliseconds(100);
    limits.idle_timeout = std::chrono::milliseconds(300);
    Clock::time_point now{};
    ServerConnection c(limits, now);
    const size_t chunk = 1 + (control & 0x3f);
    const bool expire_midway = (control & 0x40) != 0;
    const bool eof = (control & 0x80) != 0;
    bool was_closing = false;
    for (size_t at = 0; at < rest.size(); at += chunk) {
        const size_t n = std::min(chunk, rest.size() - at);
        now += std::chrono::milliseconds(7);
        c.receive(rest.subspan(at, n), now);
        check(c.buffered_bytes() <= limits.max_buffered_bytes);
        while (auto request = c.next_request()) {
            check(!was_closing);
            check(request->body.size() <= limits.max_body_bytes);
            check(request->method.size() + request->target.size() <= limits.max_header_bytes);
            c.respond(router.route(*request), now);
        }
        if (expire_midway) {
            if (const auto due = c.deadline(); due && *due <= now) c.expire(now);
        }
        const std::string out = c.take_output();
        if (was_closing) check(out.empty());
        if (!out.empty()) check(out.rfind("HTTP/1.1 ", 0) == 0);
        was_closing = c.closing();
    }
    if (eof) {
        c.receive_eof();
        const std::string out = c.take_output();
        if (was_closing) check(out.empty());
        // Truncated (400), or a limit the last bytes already broke (413, 431).
        if (!out.empty()) check(out.rfind("HTTP/1.1 4", 0) == 0);
        check(c.closing());  // every request was answered: nothing keeps it open
    }
    return 0;
}
