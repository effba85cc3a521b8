#include "io/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>

namespace nanotime::io {

const char* log_class_name(LogClass c) {
    switch (c) {
        case LogClass::General:
            return "general";
        case LogClass::BadPacket:
            return "bad-packet";
        case LogClass::AccessDenied:
            return "access-denied";
        case LogClass::RateLimited:
            return "rate-limited";
        case LogClass::KissOfDeath:
            return "kiss-of-death";
        case LogClass::SourceState:
            return "source";
        case LogClass::ClockAdjust:
            return "clock";
        case LogClass::Control:
            return "control";
        case LogClass::Io:
            return "io";
        case LogClass::Kernel:
            return "kernel";
        case LogClass::kCount:
            break;
    }
    return "?";
}

RateLimitedLog::RateLimitedLog(LogRateConfig config, std::shared_ptr<spdlog::logger> logger,
                               Clock clock)
    : config_(config), logger_(std::move(logger)), clock_(std::move(clock)) {
    if (!logger_)
        logger_ = std::make_shared<spdlog::logger>(
            "nanotimed", std::make_shared<spdlog::sinks::stderr_sink_st>());
    if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

void RateLimitedLog::log(LogClass c, spdlog::level::level_enum level, const std::string& message) {
    if (!logger_->should_log(level)) return;
    Bucket& b = buckets_[static_cast<size_t>(c)];
    if (config_.period_s > 0) {
        const auto now = clock_();
        if (!b.started) {
            b.started = true;
            b.tokens = config_.burst;
            b.last = now;
        } else {
            const double elapsed = std::chrono::duration<double>(now - b.last).count();
            b.tokens = std::min<double>(config_.burst, b.tokens + elapsed / config_.period_s);
            b.last = now;
        }
        if (b.tokens < 1.0) {
            ++b.suppressed;
            ++suppressed_total_;
            return;
        }
        b.tokens -= 1.0;
    }
    ++written_total_;
    if (b.suppressed > 0) {
        logger_->log(level, "[{}] {} ({} similar messages suppressed)", log_class_name(c), message,
                     b.suppressed);
        b.suppressed = 0;
    } else {
        logger_->log(level, "[{}] {}", log_class_name(c), message);
    }
}

}  // namespace nanotime::io
