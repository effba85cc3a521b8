// NTS-KE server state machine: the response to good, odd and hostile
// requests, with a fake exporter and cookie source; a chrony-shaped request
// written out by hand from the RFC 8915 §4 layout.
#include <gtest/gtest.h>

#include "ke_test_support.hpp"
#include "nts/ke_server.hpp"

namespace nts {
namespace {

using test::Bytes;
using test::cat;
using test::eom;
using test::FakeCookieSource;
using test::rec;
using test::text;

constexpr uint16_t kSiv = 15;
constexpr uint16_t kGcmSiv = 30;

Bytes next_protocol_ntpv4() {
    return rec(true, 1, {0x00, 0x00});
}
Bytes aead_list(std::initializer_list<uint16_t> ids) {
    Bytes body;
    for (const uint16_t id : ids) {
        body.push_back(static_cast<uint8_t>(id >> 8));
        body.push_back(static_cast<uint8_t>(id & 0xff));
    }
    return rec(true, 4, body);
}

// The records of a response, decoded with the library's own decoder.
std::vector<Record> records_of(const Bytes& response) {
    RecordDecoder decoder(kDefaultMaxResponseBytes);
    decoder.feed(response);
    std::vector<Record> out;
    for (;;) {
        auto next = decoder.next();
        if (!next || !next->has_value()) break;
        out.push_back(**next);
    }
    EXPECT_TRUE(decoder.end_of_message());
    return out;
}

struct Exchange {
    KeServerAction action;
    std::vector<Record> records;
    KeServerOutcome outcome;
    std::optional<KeErrorCode> error;
};

Exchange serve(const Bytes& request, KeServerConfig config = {}, size_t chunk = 0) {
    FakeCookieSource cookies;
    KeServerSession server(std::move(config), test::fake_exporter(), cookies);
    Exchange ex;
    if (chunk == 0) chunk = request.size();
    for (size_t at = 0; at < request.size(); at += chunk) {
        EXPECT_FALSE(server.request_complete());
        ex.action = server.feed(
            std::span<const uint8_t>(request).subspan(at, std::min(chunk, request.size() - at)));
        if (!ex.action.write.empty()) break;
    }
    if (!ex.action.write.empty()) ex.records = records_of(ex.action.write);
    ex.outcome = server.outcome();
    ex.error = server.error_code();
    return ex;
}

std::optional<uint16_t> error_record(const Exchange& ex) {
    if (ex.records.size() != 2 || !ex.records[0].is(RecordType::Error)) return std::nullopt;
    if (!ex.records[1].is(RecordType::EndOfMessage)) return std::nullopt;
    return read_u16(ex.records[0].body);
}

TEST(KeServer, GoodRequestGetsProtocolAeadEightCookiesAndClose) {
    const auto ex = serve(cat({next_protocol_ntpv4(), aead_list({kSiv}), eom()}));
    EXPECT_TRUE(ex.action.close_after_write);
    EXPECT_EQ(ex.outcome, KeServerOutcome::KeysIssued);
    ASSERT_EQ(ex.records.size(), 11u);
    EXPECT_EQ(ex.records[0], (Record{true, 1, {0, 0}}));
    EXPECT_EQ(ex.records[1], (Record{true, 4, {0, 15}}));
    const auto keys = export_nts_keys(test::fake_exporter(), kSiv);
    ASSERT_TRUE(keys);
    for (size_t i = 2; i < 10; ++i) {
        ASSERT_TRUE(ex.records[i].is(RecordType::NewCookie));
        EXPECT_FALSE(ex.records[i].critical);
        EXPECT_EQ(ex.records[i].body.size(), 100u);
        EXPECT_EQ(ex.records[i].body[0], kSiv);
        EXPECT_EQ(ex.records[i].body[1], keys->c2s[0]);
        EXPECT_EQ(ex.records[i].body[2], keys->s2c[0]);
        EXPECT_EQ(ex.records[i].body[3], i - 1);  // made in order, one per record
    }
    EXPECT_TRUE(ex.records[10].is(RecordType::EndOfMessage));
}

TEST(KeServer, ExportsKeysWithTheRfcLabelAndContext) {
    std::vector<std::pair<std::string, Bytes>> calls;
    KeyExporter recording = [&](std::string_view label, std::span<const uint8_t> context,
                                size_t length) {
        calls.emplace_back(std::string(label), Bytes(context.begin(), context.end()));
        return test::fake_export(label, context, length);
    };
    FakeCookieSource cookies;
    KeServerConfig config;
    config.aead_algorithms = {kGcmSiv, kSiv};
    KeServerSession server(config, recording, cookies);
    server.feed(cat({next_protocol_ntpv4(), aead_list({kGcmSiv}), eom()}));
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].first, "EXPORTER-network-time-security");
    EXPECT_EQ(calls[0].second, (Bytes{0, 0, 0, 30, 0}));
    EXPECT_EQ(calls[1].second, (Bytes{0, 0, 0, 30, 1}));
    ASSERT_TRUE(server.keys());
    EXPECT_EQ(server.keys()->aead, kGcmSiv);
    EXPECT_EQ(server.keys()->c2s.size(), 16u);
}

TEST(KeServer, ChoosesByServerPreferenceAmongOffered) {
    KeServerConfig both;
    both.aead_algorithms = {kGcmSiv, kSiv};
    EXPECT_EQ(serve(cat({next_protocol_ntpv4(), aead_list({kSiv, kGcmSiv}), eom()}), both)
                  .records[1]
                  .body,
              (Bytes{0, 30}));
    KeServerConfig siv_only;  // configured for 15 only
    siv_only.aead_algorithms = {kSiv};
    EXPECT_EQ(serve(cat({next_protocol_ntpv4(), aead_list({kGcmSiv, kSiv}), eom()}), siv_only)
                  .records[1]
                  .body,
              (Bytes{0, 15}));
    // The default prefers GCM-SIV whatever the client's order.
    EXPECT_EQ(
        serve(cat({next_protocol_ntpv4(), aead_list({kSiv, kGcmSiv}), eom()}), {}).records[1].body,
        (Bytes{0, 30}));
    KeServerConfig unknown_first;  // an id without a key length is never chosen
    unknown_first.aead_algorithms = {17, kSiv};
    EXPECT_EQ(serve(cat({next_protocol_ntpv4(), aead_list({17, kSiv}), eom()}), unknown_first)
                  .records[1]
                  .body,
              (Bytes{0, 15}));
}

TEST(KeServer, NoCommonAeadGetsAnEmptyAeadRecordAndNoCookies) {
    const auto ex = serve(cat({next_protocol_ntpv4(), aead_list({16, 17}), eom()}));
    EXPECT_EQ(ex.outcome, KeServerOutcome::NoCommonAead);
    ASSERT_EQ(ex.records.size(), 3u);
    EXPECT_EQ(ex.records[0].body, (Bytes{0, 0}));
    EXPECT_EQ(ex.records[1], (Record{true, 4, {}}));
    EXPECT_TRUE(ex.records[2].is(RecordType::EndOfMessage));
}

TEST(KeServer, NoCommonProtocolGetsAnEmptyNextProtocolRecord) {
    const auto ex = serve(cat({rec(true, 1, {0x80, 0x01}), aead_list({kSiv}), eom()}));
    EXPECT_EQ(ex.outcome, KeServerOutcome::NoCommonProtocol);
    ASSERT_EQ(ex.records.size(), 2u);
    EXPECT_EQ(ex.records[0], (Record{true, 1, {}}));
    EXPECT_TRUE(ex.records[1].is(RecordType::EndOfMessage));
}

TEST(KeServer, NtpServerAndPortAreSentWhenConfigured) {
    KeServerConfig config;
    config.ntp_server = "ntp1.example.net";
    config.ntp_port = 10123;
    config.cookie_count = 2;
    const auto ex = serve(cat({next_protocol_ntpv4(), aead_list({kSiv}), eom()}), config);
    ASSERT_EQ(ex.records.size(), 7u);
    EXPECT_EQ(ex.records[2], (Record{true, 6, text("ntp1.example.net")}));
    EXPECT_EQ(ex.records[3], (Record{true, 7, {0x27, 0x8b}}));
    EXPECT_TRUE(ex.records[4].is(RecordType::NewCookie));
    EXPECT_TRUE(ex.records[5].is(RecordType::NewCookie));
}

TEST(KeServer, BadRequestsGetErrorOne) {
    const Bytes np = next_protocol_ntpv4();
    const Bytes aead = aead_list({kSiv});
    const std::vector<std::pair<const char*, Bytes>> cases = {
        {"no next protocol", cat({aead, eom()})},
        {"empty next protocol", cat({rec(true, 1, {}), aead, eom()})},
        {"two next protocols", cat({np, np, aead, eom()})},
        {"no aead with ntpv4", cat({np, eom()})},
        {"two aead", cat({np, aead, aead, eom()})},
        {"error in request", cat({np, aead, rec(true, 2, {0, 0}), eom()})},
        {"warning in request", cat({np, aead, rec(true, 3, {0, 0}), eom()})},
        {"odd aead list", cat({np, rec(true, 4, {0, 15, 0}), eom()})},
        {"next protocol not critical", cat({rec(false, 1, {0, 0}), aead, eom()})},
        {"end of message with body", cat({np, aead, rec(true, 0, {0})})},
        {"two servers", cat({np, aead, rec(false, 6, text("a")), rec(false, 6, text("b")), eom()})},
        {"two ports", cat({np, aead, rec(false, 7, {0, 1}), rec(false, 7, {0, 2}), eom()})},
        {"bad server name", cat({np, aead, rec(false, 6, text("a b")), eom()})},
        {"bad port length", cat({np, aead, rec(false, 7, {1}), eom()})},
        {"empty cookie", cat({np, aead, rec(false, 5, {}), eom()})},
    };
    for (const auto& [name, request] : cases) {
        const auto ex = serve(request);
        EXPECT_EQ(error_record(ex), 1) << name;
        EXPECT_EQ(ex.outcome, KeServerOutcome::ErrorSent) << name;
        EXPECT_EQ(ex.error, KeErrorCode::BadRequest) << name;
        EXPECT_TRUE(ex.action.close_after_write) << name;
    }
}

TEST(KeServer, UnknownCriticalGetsErrorZeroAndUnknownNonCriticalIsIgnored) {
    const auto critical =
        serve(cat({rec(true, 0x1234, {1}), next_protocol_ntpv4(), aead_list({kSiv}), eom()}));
    EXPECT_EQ(error_record(critical), 0);
    EXPECT_EQ(critical.error, KeErrorCode::UnrecognizedCriticalRecord);
    FakeCookieSource cookies;
    KeServerSession server({}, test::fake_exporter(), cookies);
    const auto action =
        server.feed(cat({rec(false, 0x1234, {1}), next_protocol_ntpv4(), rec(false, 5, {9}),
                         aead_list({kSiv}), rec(false, 6, text("x.example")), eom()}));
    EXPECT_EQ(server.outcome(), KeServerOutcome::KeysIssued);
    EXPECT_EQ(server.ignored_records(), 2u);  // the unknown record and the client's cookie
    EXPECT_EQ(records_of(action.write).size(), 11u);
}

TEST(KeServer, OversizeRequestGetsErrorOneBeforeItEnds) {
    KeServerConfig config;
    config.max_request_bytes = 256;
    FakeCookieSource cookies;
    KeServerSession server(config, test::fake_exporter(), cookies);
    const Bytes filler = rec(false, 0x2222, Bytes(60, 0));
    KeServerAction action;
    size_t fed = 0;
    while (action.write.empty() && fed < 10'000) {
        action = server.feed(filler);
        fed += filler.size();
    }
    EXPECT_LE(fed, 320u);
    EXPECT_TRUE(server.request_complete());
    EXPECT_EQ(server.error_code(), KeErrorCode::BadRequest);
    EXPECT_EQ(server.reason(), "message longer than the limit");
}

TEST(KeServer, ExporterOrCookieFailureGetsErrorTwo) {
    const Bytes request = cat({next_protocol_ntpv4(), aead_list({kSiv}), eom()});
    FakeCookieSource cookies;
    KeServerSession no_keys({}, test::failing_exporter(), cookies);
    EXPECT_EQ(records_of(no_keys.feed(request).write)[0], (Record{true, 2, {0, 2}}));
    EXPECT_EQ(cookies.calls, 0);
    FakeCookieSource broken;
    broken.fail = true;
    KeServerSession no_cookies({}, test::fake_exporter(), broken);
    EXPECT_EQ(records_of(no_cookies.feed(request).write)[0], (Record{true, 2, {0, 2}}));
    EXPECT_EQ(no_cookies.error_code(), KeErrorCode::InternalServerError);
    EXPECT_FALSE(no_cookies.keys());
}

TEST(KeServer, AnswersOnceAtEndOfMessageInAnyChunking) {
    const Bytes request =
        cat({next_protocol_ntpv4(), aead_list({kGcmSiv, kSiv}), rec(false, 7, {0, 123}), eom()});
    const auto whole = serve(request);
    for (const size_t chunk : {1u, 2u, 3u, 7u}) {
        const auto split = serve(request, {}, chunk);
        EXPECT_EQ(split.action.write, whole.action.write) << "chunk " << chunk;
    }
}

TEST(KeServer, DataAfterEndOfMessageIsIgnored) {
    FakeCookieSource cookies;
    KeServerSession server({}, test::fake_exporter(), cookies);
    const Bytes request = cat({next_protocol_ntpv4(), aead_list({kSiv}), eom()});
    EXPECT_TRUE(server.feed(Bytes(request.begin(), request.end() - 1)).write.empty());
    EXPECT_FALSE(server.request_complete());
    // The last octet of End of Message, then a second request in one read.
    const auto first = server.feed(cat({Bytes{0x00}, request}));
    EXPECT_FALSE(first.write.empty());
    EXPECT_TRUE(server.request_complete());
    const auto later = server.feed(request);
    EXPECT_TRUE(later.write.empty());
    EXPECT_TRUE(later.close_after_write);
    EXPECT_EQ(cookies.calls, 8);
}

// A request as chrony 4.x sends it (nts_ke_client.c prepare_request, RFC
// 8915 §4), written from the layout: Next Protocol {NTPv4} critical, AEAD
// {30, 15} critical, End of Message.
TEST(KeServer, ChronyShapedRequestByHand) {
    const Bytes chrony = {
        0x80, 0x01, 0x00, 0x02, 0x00, 0x00,              // C=1 type 1 len 2: protocol 0
        0x80, 0x04, 0x00, 0x04, 0x00, 0x1e, 0x00, 0x0f,  // C=1 type 4 len 4: AEAD 30, 15
        0x80, 0x00, 0x00, 0x00,                          // C=1 type 0 len 0
    };
    KeServerConfig config;  // the default: GCM-SIV first
    FakeCookieSource cookies;
    KeServerSession server(config, test::fake_exporter(), cookies);
    const auto action = server.feed(chrony);
    ASSERT_GE(action.write.size(), 14u);
    const Bytes head(action.write.begin(), action.write.begin() + 12);
    EXPECT_EQ(head,
              (Bytes{0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x80, 0x04, 0x00, 0x02, 0x00, 0x1e}));
    EXPECT_EQ(Bytes(action.write.end() - 4, action.write.end()), (Bytes{0x80, 0, 0, 0}));
    // Each cookie record: 00 05 00 64 then 100 octets.
    EXPECT_EQ(action.write.size(), 12u + 8u * (4u + 100u) + 4u);
    EXPECT_EQ(action.write[12], 0x00);
    EXPECT_EQ(action.write[13], 0x05);
    EXPECT_EQ(server.keys()->aead, kGcmSiv);
    EXPECT_EQ(server.keys()->c2s.size(), 16u);
}

TEST(KeServer, OutcomesHaveNames) {
    EXPECT_EQ(to_string(KeServerOutcome::NoCommonAead), "no common AEAD algorithm");
}

}  // namespace
}  // namespace nts
