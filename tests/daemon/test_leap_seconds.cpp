// leap-seconds.list: parsing (hash, expiry, ordering, malformed lines) and
// the status at an instant (TAI offset, month-end announcement, kernel arming).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "leap/leap_seconds.hpp"
#include "util/digest.hpp"

namespace nanotime::ntp {
namespace {

constexpr int64_t k2017 = 3'692'217'600;  // 2017-01-01 00:00:00 UTC, TAI-UTC 36 -> 37
constexpr int64_t kDay = 86'400;

NtpInstant at(int64_t ntp_seconds) {
    return NtpInstant::from_nanos_since_prime_epoch(ntp_seconds * kNanosPerSecond);
}

std::string read_real_file() {
    std::ifstream in(std::string(NANOTIME_SOURCE_DIR) + "/tests/daemon/data/leap-seconds.list");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A file in the IETF format with a correct hash, entries as given.
std::string make_file(const std::vector<std::pair<int64_t, int>>& entries, int64_t updated,
                      int64_t expires, bool short_words = false) {
    std::string digits = std::to_string(updated) + std::to_string(expires);
    std::string body;
    for (auto [when, offset] : entries) {
        digits += std::to_string(when) + std::to_string(offset);
        body += std::to_string(when) + "\t" + std::to_string(offset) + "\t# 1 Jan 2000\n";
    }
    const auto d = sha1(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()));
    std::string h = "#h\t";
    for (int i = 0; i < 5; ++i) {
        const uint32_t w = (uint32_t{d[4 * i]} << 24) | (uint32_t{d[4 * i + 1]} << 16) |
                           (uint32_t{d[4 * i + 2]} << 8) | d[4 * i + 3];
        char buf[16];
        std::snprintf(buf, sizeof buf, short_words ? "%x " : "%08x ", w);
        h += buf;
    }
    return "# a comment\n#$\t" + std::to_string(updated) + "\n#@\t" + std::to_string(expires) +
           "\n#\n" + body + h + "\n";
}

const std::vector<std::pair<int64_t, int>> kSmall = {
    {2'272'060'800, 34}, {k2017 - 2 * 365 * kDay, 35}, {k2017 - 365 * kDay, 36}, {k2017, 37}};

TEST(LeapSeconds, ParsesTheIersFileShippedByTzdata) {
    auto t = LeapTable::parse(read_real_file());
    ASSERT_TRUE(t) << t.error().to_string();
    EXPECT_EQ(t->entries().size(), 28u);
    EXPECT_EQ(t->entries().front().ntp_seconds, 2'272'060'800);
    EXPECT_EQ(t->entries().front().tai_offset, 10);
    EXPECT_EQ(t->entries().back().ntp_seconds, k2017);
    EXPECT_EQ(t->entries().back().tai_offset, 37);
    EXPECT_EQ(t->updated(), 3'960'835'200);
    EXPECT_EQ(t->expires(), 3'991'593'600);
    EXPECT_EQ(t->status_at(at(k2017 + 100)).tai_offset, 37);
    EXPECT_EQ(t->status_at(at(k2017 - 100)).tai_offset, 36);
}

TEST(LeapSeconds, AnyEditBreaksTheHash) {
    std::string text = read_real_file();
    const size_t pos = text.find("#$\t3960835200");
    ASSERT_NE(pos, std::string::npos);
    text[pos + 12] = '1';  // updated a second later: still a valid file, but not this one
    auto t = LeapTable::parse(text);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("hash"), std::string::npos);
    // Comments are not hashed: editing one is fine.
    std::string text2 = read_real_file();
    text2.replace(text2.find("ATOMIC TIME"), 6, "ATOMIK");
    EXPECT_TRUE(LeapTable::parse(text2));
}

TEST(LeapSeconds, HashWordsWithoutLeadingZerosAndCrLf) {
    std::string text = make_file(kSmall, k2017 - 10 * kDay, k2017 + 100 * kDay, true);
    EXPECT_TRUE(LeapTable::parse(text));
    std::string crlf;
    for (char c : text) {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    EXPECT_TRUE(LeapTable::parse(crlf));
}

TEST(LeapSeconds, RejectsMalformedFilesWithTheLine) {
    const std::string good = make_file(kSmall, k2017 - 10 * kDay, k2017 + 100 * kDay);
    ASSERT_TRUE(LeapTable::parse(good));
    auto error_of = [](const std::string& text) {
        auto t = LeapTable::parse(text);
        return t ? std::string("accepted") : t.error().to_string();
    };
    // Missing pieces.
    std::string no_hash = good.substr(0, good.find("#h"));
    EXPECT_NE(error_of(no_hash).find("no #h"), std::string::npos);
    std::string no_expiry = good;
    no_expiry.replace(no_expiry.find("#@"), 2, "# ");
    EXPECT_NE(error_of(no_expiry).find("no #@"), std::string::npos);
    EXPECT_NE(error_of("").find("no #$"), std::string::npos);
    // Bad lines carry their number (line 1 is the comment, 2 #$, 3 #@, 4 #, 5.. data).
    std::string junk = good;
    junk.insert(junk.find("2272060800"), "12x45 10\n");
    EXPECT_EQ(error_of(junk).rfind("line 5: bad NTP seconds", 0), 0u) << error_of(junk);
    std::string three = good;
    three.insert(three.find("2272060800"), "2272060700 9 10\n");
    EXPECT_EQ(error_of(three).rfind("line 5:", 0), 0u);
    EXPECT_NE(error_of(good + "#h 1 2 3 4 5\n").find("second #h"), std::string::npos);
    std::string binary = good;
    binary[3] = '\x01';
    EXPECT_NE(error_of(binary).find("control"), std::string::npos);
    // Order, steps, midnight, expiry (each with a correct hash).
    EXPECT_NE(error_of(make_file({{2'272'060'800, 10}, {2'272'060'800, 11}}, 1, 3e9))
                  .find("out of order"),
              std::string::npos);
    EXPECT_NE(error_of(make_file({{2'272'060'800, 10}, {2'272'060'800 + kDay, 12}}, 1, 3e9))
                  .find("changes by 2"),
              std::string::npos);
    EXPECT_NE(
        error_of(make_file({{2'272'060'800, 10}, {2'272'060'800 + 5, 11}}, 1, 3e9)).find("00:00"),
        std::string::npos);
    EXPECT_NE(error_of(make_file(kSmall, k2017 + 10, k2017)).find("expires"), std::string::npos);
    EXPECT_NE(error_of(make_file(kSmall, 1, k2017 - 1)).find("past the expiry"), std::string::npos);
    EXPECT_NE(error_of(make_file({}, 1, 2)).find("no leap second entries"), std::string::npos);
    EXPECT_NE(error_of(std::string(kMaxLeapFileBytes + 1, '#')).find("256 KiB"), std::string::npos);
}

TEST(LeapSeconds, MonthStart) {
    EXPECT_EQ(month_start(k2017 - 1), k2017 - 31 * kDay);  // 2016-12-01
    EXPECT_EQ(month_start(k2017), k2017);
    EXPECT_EQ(month_start(2'272'060'800 + 40 * kDay), 2'272'060'800 + 31 * kDay);  // 1972-02-01
    // 2016-02-29 (leap year) is in February, which began 29 days earlier.
    const int64_t mar2016 = k2017 - 306 * kDay;
    EXPECT_EQ(month_start(mar2016 - 1), mar2016 - 29 * kDay);
}

TEST(LeapSeconds, InsertionIsAnnouncedForTheMonthAndArmedOnItsLastDay) {
    auto t = LeapTable::parse(make_file(kSmall, k2017 - 400 * kDay, k2017 + 100 * kDay));
    ASSERT_TRUE(t);
    const int64_t december = k2017 - 31 * kDay;
    LeapStatus s = t->status_at(at(december - 1));  // 2016-11-30 23:59:59
    EXPECT_EQ(s.announce, LeapIndicator::NoWarning);
    EXPECT_FALSE(s.arm_kernel);
    EXPECT_EQ(s.tai_offset, 36);
    EXPECT_EQ(s.next_leap, k2017);
    EXPECT_EQ(s.next_change_in, 1);
    s = t->status_at(at(december + 15 * kDay));
    EXPECT_EQ(s.announce, LeapIndicator::InsertSecond);
    EXPECT_FALSE(s.arm_kernel);
    EXPECT_EQ(s.next_change_in, 15 * kDay);  // until 2016-12-31 00:00
    s = t->status_at(at(k2017 - kDay));
    EXPECT_EQ(s.announce, LeapIndicator::InsertSecond);
    EXPECT_TRUE(s.arm_kernel);
    EXPECT_EQ(s.next_change_in, kDay);
    s = t->status_at(at(k2017 - 1) + Nanoseconds(999'999'999));
    EXPECT_TRUE(s.arm_kernel);
    EXPECT_EQ(s.tai_offset, 36);
    s = t->status_at(at(k2017));
    EXPECT_EQ(s.announce, LeapIndicator::NoWarning);
    EXPECT_FALSE(s.arm_kernel);
    EXPECT_EQ(s.tai_offset, 37);
    EXPECT_FALSE(s.next_leap);
    EXPECT_EQ(s.next_change_in, 100 * kDay);  // the expiry
    EXPECT_FALSE(s.expired);
    s = t->status_at(at(k2017 + 100 * kDay));
    EXPECT_TRUE(s.expired);
    EXPECT_EQ(s.tai_offset, 37);
    EXPECT_FALSE(s.next_change_in);
    // Before the first entry there is no offset and nothing to announce.
    s = t->status_at(at(1000));
    EXPECT_EQ(s.tai_offset, 0);
    EXPECT_EQ(s.announce, LeapIndicator::NoWarning);
}

TEST(LeapSeconds, DeletionIsAnnouncedAsDelete) {
    const int64_t july = k2017 + 181 * kDay;  // 2017-07-01
    auto t = LeapTable::parse(
        make_file({{2'272'060'800, 10}, {k2017, 11}, {july, 10}}, k2017, july + 10 * kDay));
    ASSERT_TRUE(t) << t.error().to_string();
    LeapStatus s = t->status_at(at(july - kDay + 10));
    EXPECT_EQ(s.announce, LeapIndicator::DeleteSecond);
    EXPECT_TRUE(s.arm_kernel);
    EXPECT_EQ(s.tai_offset, 11);
    EXPECT_EQ(t->status_at(at(july)).tai_offset, 10);
}

}  // namespace
}  // namespace nanotime::ntp
