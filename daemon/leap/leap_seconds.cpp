#include "leap/leap_seconds.hpp"

#include <charconv>

#include "util/digest.hpp"

namespace nanotime::ntp {
namespace {

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Splits on blanks; at most @max fields, else nothing.
std::optional<std::vector<std::string_view>> fields(std::string_view s, size_t max) {
    std::vector<std::string_view> out;
    s = trim(s);
    while (!s.empty()) {
        size_t end = 0;
        while (end < s.size() && !is_space(s[end])) ++end;
        if (out.size() == max) return std::nullopt;
        out.push_back(s.substr(0, end));
        s = trim(s.substr(end));
    }
    return out;
}

// A decimal number of at most 12 digits (NTP seconds until the year 33600).
std::optional<int64_t> number(std::string_view s) {
    if (s.empty() || s.size() > 12) return std::nullopt;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
    }
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

std::optional<uint32_t> hex_word(std::string_view s) {
    if (s.empty() || s.size() > 8) return std::nullopt;
    uint32_t v = 0;
    auto [next, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (ec != std::errc{} || next != s.data() + s.size()) return std::nullopt;
    return v;
}

// The #h hash covers the digits of the data lines and of #$ and #@, in order.
void hash_digits(std::string& hashed, std::string_view s) {
    for (char c : s) {
        if (c == '#') break;
        if (is_digit(c)) hashed += c;
    }
}

Unexpected<LeapParseError> fail(unsigned line, std::string message) {
    return unexpected(LeapParseError{line, std::move(message)});
}

}  // namespace

std::string LeapParseError::to_string() const {
    return line == 0 ? message : "line " + std::to_string(line) + ": " + message;
}

int64_t month_start(int64_t ntp_seconds) {
    const int64_t days = floor_div(ntp_seconds - kNtpToUnixSeconds, kSecondsPerDay);
    int64_t y = 0;
    unsigned m = 0;
    civil_from_days(days, y, m);
    return days_from_civil(y, m, 1) * kSecondsPerDay + kNtpToUnixSeconds;
}

Result<LeapTable, LeapParseError> LeapTable::parse(std::string_view text) {
    if (text.size() > kMaxLeapFileBytes) return fail(0, "file larger than 256 KiB");
    LeapTable t;
    std::string hashed;  // the digits the #h line covers
    std::optional<int64_t> updated, expires;
    std::optional<std::array<uint32_t, 5>> expected;
    unsigned line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        for (char c : line) {
            if (c == '\0' || static_cast<unsigned char>(c) > 0x7e ||
                (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\r')) {
                return fail(line_no, "not a text line (control or non-ASCII byte)");
            }
        }
        if (line.starts_with("#$") || line.starts_with("#@")) {
            const bool is_update = line[1] == '$';
            const auto f = fields(line.substr(2), 1);
            const auto v = f && f->size() == 1 ? number((*f)[0]) : std::nullopt;
            if (!v) {
                return fail(line_no, std::string(is_update ? "#$ (last update)" : "#@ (expiry)") +
                                         " needs one number of NTP seconds");
            }
            std::optional<int64_t>& slot = is_update ? updated : expires;
            if (slot) return fail(line_no, "second " + std::string(line.substr(0, 2)) + " line");
            slot = *v;
            hash_digits(hashed, line.substr(2));
            continue;
        }
        if (line.starts_with("#h")) {
            const auto f = fields(line.substr(2), 5);
            if (expected) return fail(line_no, "second #h line");
            if (!f || f->size() != 5) return fail(line_no, "#h needs five hexadecimal words");
            std::array<uint32_t, 5> words{};
            for (size_t i = 0; i < 5; ++i) {
                const auto w = hex_word((*f)[i]);
                if (!w) return fail(line_no, "#h: '" + std::string((*f)[i]) + "' is not hex");
                words[i] = *w;
            }
            expected = words;
            continue;
        }
        const std::string_view data = trim(line.substr(0, line.find('#')));
        if (data.empty()) continue;  // comment or blank
        const auto f = fields(data, 2);
        if (!f || f->size() != 2) {
            return fail(line_no, "a data line is '<NTP seconds> <TAI-UTC>' [# comment]");
        }
        const auto when = number((*f)[0]);
        const auto offset = number((*f)[1]);
        if (!when) return fail(line_no, "bad NTP seconds '" + std::string((*f)[0]) + "'");
        if (!offset || *offset > 1000) {
            return fail(line_no, "bad TAI-UTC offset '" + std::string((*f)[1]) + "'");
        }
        if (!t.entries_.empty()) {
            const LeapEntry& prev = t.entries_.back();
            if (*when <= prev.ntp_seconds) return fail(line_no, "entries out of order");
            const int64_t step = *offset - prev.tai_offset;
            if (step != 1 && step != -1) {
                return fail(line_no, "TAI-UTC changes by " + std::to_string(step) +
                                         " s; a leap second is +1 or -1");
            }
            if (*when % kSecondsPerDay != 0) return fail(line_no, "a leap is not at 00:00 UTC");
        }
        t.entries_.push_back(LeapEntry{*when, static_cast<int>(*offset)});
        hash_digits(hashed, data);
    }
    if (!updated) return fail(0, "no #$ (last update) line");
    if (!expires) return fail(0, "no #@ (expiry) line");
    if (!expected) return fail(0, "no #h (hash) line");
    if (t.entries_.empty()) return fail(0, "no leap second entries");
    if (*expires <= *updated) return fail(0, "expires (#@) before it was updated (#$)");
    if (t.entries_.back().ntp_seconds > *expires) return fail(0, "an entry lies past the expiry");
    const std::array<uint8_t, 20> digest = sha1(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(hashed.data()), hashed.size()));
    for (size_t i = 0; i < 5; ++i) {
        const uint32_t w = (uint32_t{digest[4 * i]} << 24) | (uint32_t{digest[4 * i + 1]} << 16) |
                           (uint32_t{digest[4 * i + 2]} << 8) | uint32_t{digest[4 * i + 3]};
        if (w != (*expected)[i]) return fail(0, "hash mismatch: the file is damaged or edited");
    }
    t.updated_ = *updated;
    t.expires_ = *expires;
    return t;
}

LeapStatus LeapTable::status_at(NtpInstant now) const {
    LeapStatus s;
    // Whole seconds, rounded down (a leap applies from its second on).
    const int64_t ns = now.nanos_since_prime_epoch();
    const int64_t t = floor_div(ns, kNanosPerSecond);
    s.expired = t >= expires_;
    size_t next = 0;
    while (next < entries_.size() && entries_[next].ntp_seconds <= t) ++next;
    if (next > 0) s.tai_offset = entries_[next - 1].tai_offset;
    std::optional<int64_t> boundary;
    if (!s.expired) boundary = expires_ - t;
    // The first entry sets the initial offset; only later ones are leaps.
    if (next < entries_.size() && next > 0) {
        const int64_t leap = entries_[next].ntp_seconds;
        s.next_leap = leap;
        const bool insert = entries_[next].tai_offset > entries_[next - 1].tai_offset;
        const int64_t month = month_start(leap - 1);
        const int64_t day = leap - kSecondsPerDay;
        if (t >= month) {
            s.announce = insert ? LeapIndicator::InsertSecond : LeapIndicator::DeleteSecond;
        }
        s.arm_kernel = t >= day;
        const int64_t change = t < month ? month : t < day ? day : leap;
        boundary = boundary ? std::min(*boundary, change - t) : change - t;
    }
    s.next_change_in = boundary;
    return s;
}

}  // namespace nanotime::ntp
