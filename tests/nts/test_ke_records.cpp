// NTS-KE record codec: each record type valid, malformed, truncated and
// over the size limit; the critical bit; unknown types; any chunking.
#include <gtest/gtest.h>

#include "ke_test_support.hpp"
#include "nts/ke_records.hpp"

namespace nts {
namespace {

using test::Bytes;
using test::cat;
using test::eom;
using test::rec;
using test::text;

struct Decoded {
    std::vector<Record> records;
    std::optional<RecordError> error;
    bool end_of_message = false;
};

// Feeds @bytes in pieces of @chunk octets, taking records after each piece.
Decoded decode(const Bytes& bytes, size_t chunk = 0, size_t limit = kDefaultMaxRequestBytes) {
    RecordDecoder decoder(limit);
    Decoded out;
    if (chunk == 0) chunk = bytes.size() + 1;
    for (size_t at = 0; at < bytes.size() || at == 0; at += chunk) {
        const size_t n = std::min(chunk, bytes.size() - at);
        decoder.feed(std::span<const uint8_t>(bytes).subspan(at, n));
        for (;;) {
            auto next = decoder.next();
            if (!next) {
                out.error = next.error();
                return out;
            }
            if (!next->has_value()) break;
            out.records.push_back(**next);
        }
        if (bytes.empty()) break;
    }
    out.end_of_message = decoder.end_of_message();
    return out;
}

std::optional<RecordError> error_of(const Bytes& bytes) {
    return decode(bytes).error;
}

// Every well-formed record of every type, in a request-shaped message.
Bytes all_types_message() {
    return cat({rec(true, 1, {0x00, 0x00}), rec(false, 4, {0x00, 0x1e, 0x00, 0x0f}),
                rec(true, 4, {}), rec(false, 5, {1, 2, 3}), rec(true, 6, text("ntp.example.net")),
                rec(false, 7, {0x01, 0x7b}), rec(true, 2, {0x00, 0x01}), rec(true, 3, {0x12, 0x34}),
                rec(false, 0x4242, {9, 9}), eom()});
}

TEST(KeRecords, DecodesEveryTypeWithItsBodyAndCriticalBit) {
    const auto d = decode(all_types_message());
    ASSERT_FALSE(d.error) << to_string(*d.error);
    EXPECT_TRUE(d.end_of_message);
    ASSERT_EQ(d.records.size(), 10u);
    EXPECT_EQ(d.records[0], (Record{true, 1, {0, 0}}));
    EXPECT_EQ(d.records[1], (Record{false, 4, {0x00, 0x1e, 0x00, 0x0f}}));
    EXPECT_EQ(d.records[2], (Record{true, 4, {}}));
    EXPECT_EQ(d.records[3], (Record{false, 5, {1, 2, 3}}));
    EXPECT_EQ(read_text(d.records[4].body), "ntp.example.net");
    EXPECT_EQ(read_u16(d.records[5].body), 379);
    EXPECT_EQ(read_u16(d.records[6].body), 1);
    EXPECT_EQ(read_u16(d.records[7].body), 0x1234);
    EXPECT_EQ(d.records[8], (Record{false, 0x4242, {9, 9}}));  // unknown, not critical: kept
    EXPECT_TRUE(d.records[9].is(RecordType::EndOfMessage));
    EXPECT_EQ(read_u16_list(d.records[1].body), (std::vector<uint16_t>{30, 15}));
}

TEST(KeRecords, OneOctetAtATimeGivesTheSameRecords) {
    const Bytes message = all_types_message();
    const auto whole = decode(message);
    for (const size_t chunk : {1u, 2u, 3u, 5u, 7u}) {
        const auto split = decode(message, chunk);
        EXPECT_FALSE(split.error) << "chunk " << chunk;
        EXPECT_TRUE(split.end_of_message) << "chunk " << chunk;
        EXPECT_EQ(split.records, whole.records) << "chunk " << chunk;
    }
}

TEST(KeRecords, TruncatedMessageWaitsForMoreAndReportsNoRecordEarly) {
    const Bytes message = cat({rec(true, 1, {0, 0}), eom()});
    for (size_t cut = 0; cut < message.size(); ++cut) {
        const auto d = decode(Bytes(message.begin(), message.begin() + static_cast<long>(cut)));
        EXPECT_FALSE(d.error) << "cut " << cut;
        EXPECT_FALSE(d.end_of_message) << "cut " << cut;
        EXPECT_EQ(d.records.size(), cut >= 6 ? 1u : 0u) << "cut " << cut;
    }
}

// One valid record of each type, as the tables below use them.
std::vector<Bytes> one_of_each_type() {
    return {eom(),
            rec(true, 1, {0, 0}),
            rec(true, 2, {0, 1}),
            rec(true, 3, {0, 0}),
            rec(false, 4, {0, 15}),
            rec(false, 5, Bytes(100, 3)),
            rec(true, 6, text("ntp.example.net")),
            rec(false, 7, {0, 123}),
            rec(false, 0x1234, {1, 2, 3})};
}

TEST(KeRecords, EachTypeTruncatedIsIncompleteNotAnError) {
    for (const Bytes& record : one_of_each_type()) {
        for (size_t cut = 0; cut < record.size(); ++cut) {
            const auto d = decode(Bytes(record.begin(), record.begin() + static_cast<long>(cut)));
            EXPECT_FALSE(d.error) << "type " << int{record[1]} << " cut " << cut;
            EXPECT_TRUE(d.records.empty()) << "type " << int{record[1]} << " cut " << cut;
        }
        EXPECT_EQ(decode(record, 1).records.size(), 1u) << "type " << int{record[1]};
    }
}

TEST(KeRecords, EachTypeOneOctetOverTheLimitIsRefused) {
    for (const Bytes& record : one_of_each_type()) {
        // The record then End of Message (End of Message alone for type 0).
        const Bytes message = record == eom() ? record : cat({record, eom()});
        const int type = record[1];
        const auto fits = decode(message, 0, message.size());
        EXPECT_FALSE(fits.error) << "type " << type;
        EXPECT_TRUE(fits.end_of_message) << "type " << type;
        EXPECT_EQ(decode(message, 0, message.size() - 1).error, RecordError::MessageTooLong)
            << "type " << type;
        EXPECT_EQ(decode(message, 1, message.size() - 1).error, RecordError::MessageTooLong)
            << "type " << type;
    }
    // A record that fills the limit leaves no room for End of Message: refused
    // at once rather than after waiting for octets that cannot fit.
    const Bytes cookie = rec(false, 5, Bytes(10, 1));
    EXPECT_EQ(decode(cookie, 0, cookie.size()).error, RecordError::MessageTooLong);
}

TEST(KeRecords, EndOfMessageMustBeCriticalAndEmpty) {
    EXPECT_EQ(error_of(rec(false, 0, {})), RecordError::CriticalBitMissing);
    EXPECT_EQ(error_of(rec(true, 0, {0})), RecordError::EndOfMessageNotEmpty);
    EXPECT_FALSE(error_of(eom()));
}

TEST(KeRecords, NextProtocolIsCriticalWithAnEvenList) {
    EXPECT_FALSE(error_of(cat({rec(true, 1, {}), eom()})));  // empty: a valid "none" answer
    EXPECT_FALSE(error_of(cat({rec(true, 1, {0, 0, 0x80, 1}), eom()})));
    EXPECT_EQ(error_of(rec(true, 1, {0})), RecordError::OddListLength);
    EXPECT_EQ(error_of(rec(false, 1, {0, 0})), RecordError::CriticalBitMissing);
}

TEST(KeRecords, ErrorAndWarningAreCriticalWithTwoOctets) {
    for (const uint16_t type : {2, 3}) {
        EXPECT_FALSE(error_of(cat({rec(true, type, {0, 2}), eom()})));
        EXPECT_EQ(error_of(rec(true, type, {0})), RecordError::BadCodeLength);
        EXPECT_EQ(error_of(rec(true, type, {0, 0, 0})), RecordError::BadCodeLength);
        EXPECT_EQ(error_of(rec(true, type, {})), RecordError::BadCodeLength);
        EXPECT_EQ(error_of(rec(false, type, {0, 1})), RecordError::CriticalBitMissing);
    }
}

TEST(KeRecords, AeadListMayBeEitherCriticalityButEven) {
    EXPECT_FALSE(error_of(cat({rec(false, 4, {0, 15}), eom()})));
    EXPECT_FALSE(error_of(cat({rec(true, 4, {0, 15}), eom()})));
    EXPECT_EQ(error_of(rec(true, 4, {0, 15, 0})), RecordError::OddListLength);
}

TEST(KeRecords, CookieMustNotBeEmpty) {
    EXPECT_FALSE(error_of(cat({rec(false, 5, Bytes(200, 7)), eom()})));
    EXPECT_EQ(error_of(rec(false, 5, {})), RecordError::EmptyCookie);
}

TEST(KeRecords, PortIsExactlyTwoOctets) {
    EXPECT_FALSE(error_of(cat({rec(true, 7, {0, 123}), eom()})));
    EXPECT_EQ(error_of(rec(true, 7, {123})), RecordError::BadPortLength);
    EXPECT_EQ(error_of(rec(false, 7, {0, 0, 123})), RecordError::BadPortLength);
}

TEST(KeRecords, ServerNameIsAHostNameOrAnIpLiteral) {
    for (const char* good : {"ntp.example.net", "ntp.example.net.", "a", "192.0.2.1", "2001:db8::1",
                             "::1", "time-1.example"}) {
        EXPECT_TRUE(valid_server_name(good)) << good;
        EXPECT_FALSE(error_of(cat({rec(true, 6, text(good)), eom()}))) << good;
    }
    for (const char* bad :
         {"", ".", "a..b", "-a.example", "a-.example", "ntp example", "ntp_1", "[2001:db8::1]",
          "2001:db8::1::2", "host:123", "caf\xc3\xa9.example", "a\nb"}) {
        EXPECT_FALSE(valid_server_name(bad)) << bad;
        EXPECT_EQ(error_of(rec(true, 6, text(bad))), RecordError::BadServerName) << bad;
    }
    EXPECT_EQ(error_of(rec(true, 6, Bytes{'a', 0, 'b'})), RecordError::BadServerName);
    const std::string label63(63, 'x');
    EXPECT_TRUE(valid_server_name(label63 + ".example"));
    EXPECT_FALSE(valid_server_name(label63 + "x.example"));
    std::string longest;
    while (longest.size() < kMaxServerNameLength) longest += "abcdefg.";
    longest.resize(kMaxServerNameLength - 1);
    longest += "z";
    EXPECT_TRUE(valid_server_name(longest));
    EXPECT_FALSE(valid_server_name(longest + "z"));
}

TEST(KeRecords, UnknownTypesAreKeptUnlessCritical) {
    const auto d = decode(cat({rec(false, 0x1234, {}), rec(false, 0x7fff, {1}), eom()}));
    EXPECT_FALSE(d.error);
    EXPECT_EQ(d.records.size(), 3u);
    EXPECT_EQ(error_of(rec(true, 0x1234, {})), RecordError::UnrecognizedCritical);
    EXPECT_EQ(error_of(rec(true, 0x4000, {1, 2})), RecordError::UnrecognizedCritical);
}

TEST(KeRecords, RecordsBeforeAnErrorAreDeliveredAndTheDecoderStaysFailed) {
    RecordDecoder decoder(kDefaultMaxRequestBytes);
    const Bytes bytes = cat({rec(true, 1, {0, 0}), rec(true, 0x55, {}), eom()});
    decoder.feed(bytes);
    auto first = decoder.next();
    ASSERT_TRUE(first && first->has_value());
    EXPECT_FALSE(decoder.next());
    decoder.feed(eom());
    const auto again = decoder.next();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), RecordError::UnrecognizedCritical);
    EXPECT_TRUE(decoder.failed());
}

TEST(KeRecords, MessageOverTheLimitIsRefused) {
    // 60 octets of cookies then End of Message: 64 octets in all.
    const Bytes message = cat({rec(false, 5, Bytes(56, 1)), eom()});
    ASSERT_EQ(message.size(), 64u);
    EXPECT_FALSE(decode(message, 0, 64).error);
    EXPECT_EQ(decode(message, 0, 63).error, RecordError::MessageTooLong);
    EXPECT_EQ(decode(message, 1, 63).error, RecordError::MessageTooLong);
    // A header announcing a body that cannot fit is refused before the body.
    RecordDecoder decoder(1000);
    decoder.feed(Bytes{0x00, 0x05, 0xff, 0xff});
    const auto next = decoder.next();
    ASSERT_FALSE(next);
    EXPECT_EQ(next.error(), RecordError::MessageTooLong);
    // Many small records: refused once they pass the limit, however chunked.
    Bytes flood;
    while (flood.size() < 2000) flood = cat({flood, rec(false, 0x1234, {})});
    EXPECT_EQ(decode(flood, 0, 1000).error, RecordError::MessageTooLong);
    EXPECT_EQ(decode(flood, 3, 1000).error, RecordError::MessageTooLong);
    EXPECT_EQ(decode(flood, 1000, 1000).error, RecordError::MessageTooLong);
}

TEST(KeRecords, OctetsAfterEndOfMessageAreCountedNotDecoded) {
    RecordDecoder decoder(64);
    const Bytes message = cat({eom(), rec(true, 0x99, {}), Bytes(100, 0xee)});
    decoder.feed(message);
    auto first = decoder.next();
    ASSERT_TRUE(first && first->has_value());
    EXPECT_TRUE(decoder.end_of_message());
    auto after = decoder.next();
    ASSERT_TRUE(after);
    EXPECT_FALSE(after->has_value());
    decoder.feed(Bytes(10, 1));
    EXPECT_EQ(decoder.message_bytes(), 4u);
    EXPECT_EQ(decoder.trailing_bytes(), 60u + 10u);  // the limit cut the first feed at 64
}

TEST(KeRecords, EncodersWriteTheRfcLayout) {
    Bytes out;
    const uint16_t protocols[] = {0};
    const uint16_t aeads[] = {30, 15};
    ASSERT_TRUE(append_next_protocol(out, protocols));
    ASSERT_TRUE(append_aead_algorithms(out, false, aeads));
    append_error(out, KeErrorCode::InternalServerError);
    append_warning(out, 7);
    ASSERT_TRUE(append_new_cookie(out, Bytes{1, 2, 3}));
    ASSERT_TRUE(append_ntp_server(out, true, "192.0.2.1"));
    append_ntp_port(out, false, 4123);
    append_end_of_message(out);
    const Bytes expected =
        cat({Bytes{0x80, 0x01, 0x00, 0x02, 0x00, 0x00},
             Bytes{0x00, 0x04, 0x00, 0x04, 0x00, 0x1e, 0x00, 0x0f},
             Bytes{0x80, 0x02, 0x00, 0x02, 0x00, 0x02}, Bytes{0x80, 0x03, 0x00, 0x02, 0x00, 0x07},
             Bytes{0x00, 0x05, 0x00, 0x03, 1, 2, 3},
             Bytes{0x80, 0x06, 0x00, 0x09, '1', '9', '2', '.', '0', '.', '2', '.', '1'},
             Bytes{0x00, 0x07, 0x00, 0x02, 0x10, 0x1b}, Bytes{0x80, 0x00, 0x00, 0x00}});
    EXPECT_EQ(out, expected);
}

TEST(KeRecords, EncodersRefuseWhatTheDecoderWouldRefuse) {
    Bytes out;
    EXPECT_FALSE(append_new_cookie(out, {}));
    EXPECT_FALSE(append_new_cookie(out, Bytes(65536, 1)));
    EXPECT_FALSE(append_ntp_server(out, true, "bad name"));
    EXPECT_FALSE(append_record(out, false, 0x8000, {}));
    const std::vector<uint16_t> too_many(32768, 15);
    EXPECT_FALSE(append_aead_algorithms(out, true, too_many));
    EXPECT_TRUE(out.empty());
    EXPECT_TRUE(append_new_cookie(out, Bytes(65535, 1)));
    EXPECT_EQ(out.size(), 4u + 65535u);
}

TEST(KeRecords, ErrorsAndTypesHaveNames) {
    EXPECT_EQ(record_type_name(4), "AEAD Algorithm Negotiation");
    EXPECT_EQ(record_type_name(99), "unknown");
    EXPECT_EQ(to_string(RecordError::BadPortLength), "Port Negotiation body not 2 octets");
}

}  // namespace
}  // namespace nts
