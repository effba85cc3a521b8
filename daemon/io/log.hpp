// log.hpp - logging with a token bucket per message class.
//
// Anything a packet from the network can trigger is logged under a class
// (bad packet, rate-limited client, KoD received...). Each class has its own
// bucket of `burst` messages refilled at one per `period`; a message that
// finds the bucket empty is counted, not written, and the next message of
// the class that gets through says how many were withheld. So no sequence of
// unauthenticated packets can make the log grow faster than
// burst + elapsed/period lines per class.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace nanotime::io {

enum class LogClass : uint8_t {
    General,       // start-up, configuration, operator actions (still limited)
    BadPacket,     // undecodable or bogus NTP packets
    AccessDenied,  // server ACL refusals
    RateLimited,   // clients over their rate
    KissOfDeath,   // KoD received from a source
    SourceState,   // reachability, selection changes
    ClockAdjust,   // steps, panics, adjtimex failures
    Control,       // control socket
    Io,            // socket and loop errors
    Kernel,        // nanoclock netlink events, PPS binding and bridges
    kCount
};

const char* log_class_name(LogClass c);

struct LogRateConfig {
    unsigned burst = 10;
    double period_s = 6.0;  // one more message per class per period; 0 disables limiting
};

class RateLimitedLog {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    explicit RateLimitedLog(LogRateConfig config, std::shared_ptr<spdlog::logger> logger = nullptr,
                            Clock clock = nullptr);

    // Writes unless the class is over its rate.
    void log(LogClass c, spdlog::level::level_enum level, const std::string& message);
    void info(LogClass c, const std::string& m) { log(c, spdlog::level::info, m); }
    void warn(LogClass c, const std::string& m) { log(c, spdlog::level::warn, m); }
    void error(LogClass c, const std::string& m) { log(c, spdlog::level::err, m); }
    void debug(LogClass c, const std::string& m) { log(c, spdlog::level::debug, m); }

    uint64_t suppressed_total() const { return suppressed_total_; }
    uint64_t written_total() const { return written_total_; }
    spdlog::logger& logger() { return *logger_; }

  private:
    struct Bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point last{};
        uint64_t suppressed = 0;  // since the last written message
        bool started = false;
    };
    LogRateConfig config_;
    std::shared_ptr<spdlog::logger> logger_;
    Clock clock_;
    std::array<Bucket, static_cast<size_t>(LogClass::kCount)> buckets_{};
    uint64_t suppressed_total_ = 0;
    uint64_t written_total_ = 0;
};

}  // namespace nanotime::io
