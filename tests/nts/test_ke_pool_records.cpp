// NTS pool records (ke_pool_records.hpp): the codepoint table, each record
// through the encoder and back through the decoder, every malformed shape,
// and the pool token set and token file.
#include <gtest/gtest.h>

#include <set>

#include "ke_test_support.hpp"
#include "nts/ke_pool_records.hpp"
#include "nts/pool_tokens.hpp"

namespace nts {
namespace {

using test::Bytes;
using test::cat;
using test::eom;
using test::rec;
using test::text;

// Decodes one record followed by End of Message (the decoder validates).
Result<Record, RecordError> decode_one(const Bytes& record) {
    RecordDecoder decoder(kDefaultMaxRequestBytes);
    decoder.feed(cat({record, eom()}));
    auto next = decoder.next();
    if (!next) return nanotime::ntp::unexpected(next.error());
    EXPECT_TRUE(next->has_value());
    return **next;
}

std::optional<RecordError> error_of(const Bytes& record) {
    auto r = decode_one(record);
    if (r) return std::nullopt;
    return r.error();
}

TEST(KePoolRecords, CodepointsAreIanaEarlyAllocationWithDraftValuesBeside) {
    // ntpd-rs >= 1.9 ntp-proto/src/nts/record.rs: 8, 9, 10, 12, 13, 14;
    // draft-venhoek-nts-pool-03: 0x4000, 0x4004, 0x4001, 0x4002, 0x4003.
    EXPECT_EQ(static_cast<uint16_t>(PoolRecordType::KeepAlive), 8);
    EXPECT_EQ(static_cast<uint16_t>(PoolRecordType::SupportedNextProtocolList), 9);
    EXPECT_EQ(static_cast<uint16_t>(PoolRecordType::SupportedAlgorithmList), 10);
    EXPECT_EQ(static_cast<uint16_t>(PoolRecordType::FixedKeyRequest), 12);
    EXPECT_EQ(static_cast<uint16_t>(PoolRecordType::NtpServerDeny), 13);
    EXPECT_EQ(static_cast<uint16_t>(PoolRecordType::Authentication), 14);
    std::set<uint16_t> seen;
    for (const auto& c : kPoolCodepoints) {
        EXPECT_TRUE(seen.insert(static_cast<uint16_t>(c.type)).second);
        EXPECT_TRUE(is_pool_record(static_cast<uint16_t>(c.type)));
        EXPECT_EQ(record_type_name(static_cast<uint16_t>(c.type)), c.name);
    }
    EXPECT_EQ(pool_codepoint(9)->draft_value, 0x4004);
    EXPECT_EQ(pool_codepoint(12)->draft_value, 0x4002);
    EXPECT_FALSE(is_pool_record(11));      // List Server Names: no early allocation here
    EXPECT_FALSE(is_pool_record(0x4002));  // the old draft numbers are unknown records
    EXPECT_EQ(error_of(rec(true, 0x4002, {1, 2})), RecordError::UnrecognizedCritical);
}

TEST(KePoolRecords, EncodersWriteTheWireLayoutByHand) {
    Bytes out;
    append_keep_alive(out);
    EXPECT_EQ(out, rec(false, 8, {}));
    out.clear();
    const uint16_t protocols[] = {0, 0x8001};
    ASSERT_TRUE(append_supported_protocols(out, protocols));
    EXPECT_EQ(out, rec(true, 9, {0, 0, 0x80, 0x01}));
    out.clear();
    const AlgorithmDescription algorithms[] = {{30, 16}, {15, 32}};
    ASSERT_TRUE(append_supported_algorithms(out, algorithms));
    EXPECT_EQ(out, rec(true, 10, {0, 30, 0, 16, 0, 15, 0, 32}));
    out.clear();
    const Bytes c2s = {1, 2, 3}, s2c = {4, 5, 6};
    ASSERT_TRUE(append_fixed_key_request(out, c2s, s2c));
    EXPECT_EQ(out, rec(true, 12, {1, 2, 3, 4, 5, 6}));
    out.clear();
    ASSERT_TRUE(append_ntp_server_deny(out, "ntp1.example.net"));
    EXPECT_EQ(out, rec(false, 13, text("ntp1.example.net")));
    out.clear();
    ASSERT_TRUE(append_authentication(out, "0123abcd"));
    EXPECT_EQ(out, rec(false, 14, text("0123abcd")));
}

TEST(KePoolRecords, EncodersRefuseWhatTheDecoderWouldRefuseAndLeaveOutAlone) {
    Bytes out = {0xaa};
    const Bytes key16(16, 1), key32(32, 2);
    EXPECT_FALSE(append_fixed_key_request(out, key16, key32));
    EXPECT_FALSE(append_fixed_key_request(out, {}, {}));
    EXPECT_FALSE(append_ntp_server_deny(out, "bad name"));
    EXPECT_FALSE(append_ntp_server_deny(out, ""));
    EXPECT_FALSE(append_authentication(out, ""));
    EXPECT_FALSE(append_authentication(out, "with space"));
    EXPECT_FALSE(append_authentication(out, std::string(kMaxAuthenticationTokenLength + 1, 'a')));
    const AlgorithmDescription zero[] = {{15, 0}};
    EXPECT_FALSE(append_supported_algorithms(out, zero));
    EXPECT_EQ(out, Bytes{0xaa});
}

TEST(KePoolRecords, EveryRecordRoundTripsThroughTheDecoder) {
    Bytes message;
    append_keep_alive(message);
    const uint16_t protocols[] = {0};
    ASSERT_TRUE(append_supported_protocols(message, protocols));
    const AlgorithmDescription algorithms[] = {{15, 32}, {30, 16}};
    ASSERT_TRUE(append_supported_algorithms(message, algorithms));
    const Bytes c2s(32, 0x11), s2c(32, 0x22);
    ASSERT_TRUE(append_fixed_key_request(message, c2s, s2c));
    ASSERT_TRUE(append_ntp_server_deny(message, "2001:db8::1"));
    ASSERT_TRUE(append_authentication(message, "token-1"));
    append_end_of_message(message);
    // One octet at a time: the chunking changes nothing.
    RecordDecoder decoder(kDefaultMaxRequestBytes);
    std::vector<Record> records;
    for (const uint8_t b : message) {
        decoder.feed({&b, 1});
        for (;;) {
            auto next = decoder.next();
            ASSERT_TRUE(next);
            if (!next->has_value()) break;
            records.push_back(**next);
        }
    }
    ASSERT_EQ(records.size(), 7u);
    EXPECT_EQ(records[0].type, 8);
    const auto p = read_supported_protocols(records[1].body);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, std::vector<uint16_t>{0});
    const auto a = read_supported_algorithms(records[2].body);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, (std::vector<AlgorithmDescription>{{15, 32}, {30, 16}}));
    const auto halves = split_fixed_key(records[3].body, 32);
    ASSERT_TRUE(halves);
    EXPECT_EQ(Bytes(halves->first.begin(), halves->first.end()), c2s);
    EXPECT_EQ(Bytes(halves->second.begin(), halves->second.end()), s2c);
    EXPECT_EQ(read_text(records[4].body), "2001:db8::1");
    EXPECT_EQ(read_text(records[5].body), "token-1");
    EXPECT_TRUE(records[6].is(RecordType::EndOfMessage));
}

TEST(KePoolRecords, MalformedShapesAreClearErrors) {
    // Fixed Key Request: critical, non-empty, even.
    EXPECT_EQ(error_of(rec(false, 12, Bytes(64, 1))), RecordError::CriticalBitMissing);
    EXPECT_EQ(error_of(rec(true, 12, {})), RecordError::BadFixedKeyLength);
    EXPECT_EQ(error_of(rec(true, 12, Bytes(31, 1))), RecordError::BadFixedKeyLength);
    EXPECT_FALSE(error_of(rec(true, 12, Bytes(64, 1))));
    // Supported lists: critical (a request's body is ignored, so any length decodes).
    EXPECT_EQ(error_of(rec(false, 9, {})), RecordError::CriticalBitMissing);
    EXPECT_EQ(error_of(rec(false, 10, {})), RecordError::CriticalBitMissing);
    EXPECT_FALSE(error_of(rec(true, 9, {1})));
    EXPECT_FALSE(error_of(rec(true, 10, {1, 2, 3})));
    // NTP Server Deny: a server name.
    EXPECT_EQ(error_of(rec(false, 13, {})), RecordError::BadDeniedServer);
    EXPECT_EQ(error_of(rec(false, 13, text("a b"))), RecordError::BadDeniedServer);
    EXPECT_EQ(error_of(rec(false, 13, text("-x.example"))), RecordError::BadDeniedServer);
    EXPECT_EQ(error_of(rec(false, 13, Bytes{'a', 0, 'b'})), RecordError::BadDeniedServer);
    EXPECT_FALSE(error_of(rec(true, 13, text("192.0.2.1"))));
    // Authentication: 1..256 printable ASCII.
    EXPECT_EQ(error_of(rec(false, 14, {})), RecordError::BadAuthenticationToken);
    EXPECT_EQ(error_of(rec(false, 14, text("a b"))), RecordError::BadAuthenticationToken);
    EXPECT_EQ(error_of(rec(false, 14, Bytes{'a', 0x7f})), RecordError::BadAuthenticationToken);
    EXPECT_EQ(error_of(rec(false, 14, Bytes{'a', 0xc3, 0xa9})),
              RecordError::BadAuthenticationToken);
    EXPECT_EQ(error_of(rec(false, 14, Bytes(kMaxAuthenticationTokenLength + 1, 'a'))),
              RecordError::BadAuthenticationToken);
    EXPECT_FALSE(error_of(rec(false, 14, Bytes(kMaxAuthenticationTokenLength, 'a'))));
    // Keep Alive: a body is ignored (draft), either critical bit.
    EXPECT_FALSE(error_of(rec(false, 8, {1, 2, 3})));
    EXPECT_FALSE(error_of(rec(true, 8, {})));
    // Response bodies of the Supported lists.
    EXPECT_EQ(read_supported_protocols(Bytes{0, 0, 1}).error(), RecordError::OddListLength);
    EXPECT_EQ(read_supported_algorithms(Bytes{0, 15, 0}).error(), RecordError::BadAlgorithmList);
    EXPECT_EQ(read_supported_algorithms(Bytes{0, 15, 0, 0}).error(), RecordError::BadAlgorithmList);
    EXPECT_TRUE(read_supported_algorithms(Bytes{}));
    // Fixed key halves against the AEAD's key length.
    EXPECT_EQ(split_fixed_key(Bytes(32, 1), 32).error(), RecordError::BadFixedKeyLength);
    EXPECT_EQ(split_fixed_key(Bytes(66, 1), 32).error(), RecordError::BadFixedKeyLength);
    EXPECT_EQ(split_fixed_key(Bytes(0), 0).error(), RecordError::BadFixedKeyLength);
    // Every error has its own text.
    for (const RecordError e : {RecordError::BadFixedKeyLength, RecordError::BadAuthenticationToken,
                                RecordError::BadAlgorithmList, RecordError::BadDeniedServer}) {
        EXPECT_NE(to_string(e), "unknown record error");
    }
}

TEST(KePoolRecords, DecoderRestartsWithTheOctetsAfterEndOfMessage) {
    RecordDecoder decoder(64);
    decoder.feed(cat({eom(), rec(false, 8, {}), eom(), rec(false, 8, {})}));
    auto first = decoder.next();
    ASSERT_TRUE(first && first->has_value());
    EXPECT_TRUE(decoder.end_of_message());
    EXPECT_EQ(decoder.trailing_bytes(), 12u);
    decoder.restart();
    EXPECT_EQ(decoder.message_bytes(), 12u);
    auto keep = decoder.next();
    ASSERT_TRUE(keep && keep->has_value());
    EXPECT_EQ((*keep)->type, 8);
    auto end = decoder.next();
    ASSERT_TRUE(end && end->has_value());
    EXPECT_TRUE((*end)->is(RecordType::EndOfMessage));
    // Octets after the second End of Message, more than the limit: the
    // third message is refused as too long, not silently cut.
    Bytes unknown;
    for (int i = 0; i < 25; ++i) unknown = cat({unknown, rec(false, 0x1234, {})});
    decoder.feed(unknown);
    decoder.restart();
    auto third = decoder.next();
    bool refused = !third;
    while (third && third->has_value()) {
        third = decoder.next();
        refused = !third;
    }
    EXPECT_TRUE(refused);
    EXPECT_EQ(third.error(), RecordError::MessageTooLong);
}

TEST(PoolTokens, MatchesOnlyConfiguredTokens) {
    const PoolTokens tokens({"alpha", "0123456789abcdef"});
    EXPECT_EQ(tokens.size(), 2u);
    EXPECT_TRUE(tokens.contains("alpha"));
    EXPECT_TRUE(tokens.contains("0123456789abcdef"));
    EXPECT_FALSE(tokens.contains("alph"));
    EXPECT_FALSE(tokens.contains("alphaa"));
    EXPECT_FALSE(tokens.contains("0123456789abcdeF"));
    EXPECT_FALSE(tokens.contains(""));
    EXPECT_FALSE(PoolTokens().contains("alpha"));
}

TEST(PoolTokens, TokenFileParsesAndNamesTheBadLine) {
    const auto ok = parse_pool_token_file("# pool tokens\n\n  tok-1 \r\n\ttok-2\n#tok-3\n");
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_EQ(*ok, (std::vector<std::string>{"tok-1", "tok-2"}));
    const auto spaced = parse_pool_token_file("tok-1\ntwo words\n");
    ASSERT_FALSE(spaced);
    EXPECT_EQ(spaced.error().rfind("line 2: ", 0), 0u) << spaced.error();
    const auto binary = parse_pool_token_file(std::string("a\0b\n", 4));
    ASSERT_FALSE(binary);
    EXPECT_EQ(binary.error().rfind("line 1: ", 0), 0u);
    std::string many;
    for (size_t i = 0; i <= kMaxPoolTokens; ++i) many += "t" + std::to_string(i) + "\n";
    EXPECT_FALSE(parse_pool_token_file(many));
    EXPECT_FALSE(parse_pool_token_file(std::string(kMaxPoolTokenFileBytes + 1, 'a')));
    const auto empty = parse_pool_token_file("");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace nts
