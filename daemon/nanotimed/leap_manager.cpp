// leap_manager.cpp - the leap second policy (see leap_manager.hpp).
#include "nanotimed/leap_manager.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "io/utc_text.hpp"
#include "util/atomic_file.hpp"

namespace nanotime::daemon {
namespace {

std::string utc_date(int64_t ntp_seconds) {
    return io::utc_text(ntp_seconds - ntp::kNtpToUnixSeconds);
}

}  // namespace

std::optional<std::string> LeapManager::install(const std::string& text, ntp::NtpInstant now,
                                                io::RateLimitedLog& log, std::string& error) {
    if (path_.empty()) {
        error = "no leap seconds file configured ([clock] leap_seconds_file is empty)";
        return std::nullopt;
    }
    auto table = ntp::LeapTable::parse(text);
    if (!table) {
        error = "leap seconds file refused: " + table.error().to_string();
        return std::nullopt;
    }
    if (auto failed = util::replace_file(path_, text, 0644)) {
        error = "cannot write the leap seconds file: " + *failed;
        return std::nullopt;
    }
    load(now, log);
    return path_ + ": " + std::to_string(table->entries().size()) + " entries, expires " +
           utc_date(table->expires());
}

void LeapManager::load(ntp::NtpInstant now, io::RateLimitedLog& log) {
    if (path_.empty()) return;
    std::ifstream in(path_, std::ios::binary);
    if (!in) {
        log.warn(io::LogClass::ClockAdjust, "cannot read the leap seconds file " + path_ + ": " +
                                                std::strerror(errno) +
                                                "; leap warnings come from the sources only");
        return;
    }
    std::string text(ntp::kMaxLeapFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    auto table = ntp::LeapTable::parse(text);
    if (!table) {
        log.error(io::LogClass::ClockAdjust,
                  path_ + ": " + table.error().to_string() +
                      (table_ ? "; keeping the table loaded before" : "; not used"));
        return;
    }
    const ntp::LeapStatus st = table->status_at(now);
    log.info(io::LogClass::ClockAdjust, path_ + ": " + std::to_string(table->entries().size()) +
                                            " entries, TAI-UTC " + std::to_string(st.tai_offset) +
                                            " s, expires " + utc_date(table->expires()));
    if (st.expired) {
        log.warn(io::LogClass::ClockAdjust,
                 path_ + " expired on " + utc_date(table->expires()) +
                     ": it sets the TAI offset but no longer decides leap warnings; update it "
                     "(tzdata)");
    }
    table_ = std::move(*table);
}

LeapPlan LeapManager::update(ntp::NtpInstant now, const ntp::SystemState& sys) {
    using ntp::LeapIndicator;
    const int64_t second = now.nanos_since_prime_epoch() / ntp::kNanosPerSecond;
    const int64_t tomorrow = second - second % ntp::kSecondsPerDay + ntp::kSecondsPerDay;
    int want = 0;
    int tai = 0;
    std::optional<int64_t> next_in;
    std::string why;
    file_announce_ = LeapIndicator::NoWarning;
    file_current_ = false;
    if (table_) {
        const ntp::LeapStatus st = table_->status_at(now);
        tai = st.tai_offset;
        next_in = st.next_change_in;
        if (!st.expired) {
            file_current_ = true;
            file_announce_ = st.announce;
            if (st.arm_kernel) want = st.announce == LeapIndicator::DeleteSecond ? -1 : 1;
            why = "leap seconds file";
        }
    }
    if (!file_current_ && sys.synchronized() &&
        (sys.leap == LeapIndicator::InsertSecond || sys.leap == LeapIndicator::DeleteSecond)) {
        // The system peer's warning, acted on only on the last day of a month.
        if (ntp::month_start(tomorrow) == tomorrow)
            want = sys.leap == LeapIndicator::InsertSecond ? 1 : -1;
        const int64_t until_tomorrow = tomorrow - second;
        next_in = next_in ? std::min(*next_in, until_tomorrow) : until_tomorrow;
        why = "warning from the sources";
    }
    LeapPlan plan;
    if (want != armed_) {
        plan.arm.emplace();
        plan.arm->direction = want;
        plan.arm->midnight = tomorrow;
        plan.arm->why = std::move(why);
    }
    if (tai > 0 && tai != tai_offered_) plan.tai = tai;
    plan.recheck_after = std::chrono::seconds(std::clamp<int64_t>(next_in.value_or(3600), 1, 3600));
    return plan;
}

ntp::SystemState LeapManager::served(const ntp::SystemState& sys) const {
    ntp::SystemState st = sys;  // one copy (named return), once per served request
    if (st.synchronized() && file_current_) st.leap = file_announce_;
    return st;
}

}  // namespace nanotime::daemon
