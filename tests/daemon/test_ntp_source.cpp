// Client association: requests, cookie/origin checks (TEST1-3, 6, 7), KoD,
// iburst, reachability, unreachability, poll adaptation.
#include <gtest/gtest.h>

#include "packet/reference_id.hpp"
#include "source/ntp_source.hpp"
#include "source/poll_controller.hpp"
#include "test_support.hpp"

namespace nanotime::ntp {
namespace {

using testing::actions_of;
using testing::kEpoch2026;
using testing::make_reply;

constexpr int64_t kMs = 1'000'000;

SourceConfig config(bool iburst = false) {
    SourceConfig c;
    c.address = SocketAddress{IpAddress::v4(192, 0, 2, 1), 123};
    c.minpoll = 6;
    c.maxpoll = 10;
    c.iburst = iburst;
    return c;
}

struct Exchange {
    SendRequest request;
    SourceActions timer_actions;
};

Exchange poll(NtpSource& source, NtpInstant now, RandomSource& random) {
    Exchange e;
    e.timer_actions = source.handle_timer(now, random);
    auto sends = actions_of<SendRequest>(e.timer_actions);
    EXPECT_EQ(sends.size(), 1u);
    if (!sends.empty()) e.request = sends[0];
    return e;
}

// Answers with the server 5 ms ahead and 10 ms of delay each way.
SourceActions answer(NtpSource& source, const SendRequest& request, NtpInstant sent) {
    const auto reply = make_reply(request.packet, sent + Nanoseconds(15 * kMs),
                                  sent + Nanoseconds(15 * kMs + 100'000));
    return source.handle_packet(reply, request.request_id, sent + Nanoseconds(20 * kMs + 100'000));
}

TEST(NtpSource, RequestIsMinimalWithRandomCookiePortAndId) {
    SplitMix64 random(1);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    const auto h = *parse_header(e.request.packet);
    EXPECT_EQ(h.mode, Mode::Client);
    EXPECT_EQ(h.version, 4);
    EXPECT_EQ(h.poll, 6);
    EXPECT_TRUE(h.origin_time.is_zero());
    EXPECT_TRUE(h.receive_time.is_zero());
    EXPECT_TRUE(h.reference_time.is_zero());
    EXPECT_FALSE(h.transmit_time.is_zero());
    // The transmit field is a random cookie, not our clock.
    EXPECT_NE(h.transmit_time, kEpoch2026.to_timestamp());
    EXPECT_GE(e.request.source_port, 1024);
    EXPECT_EQ(e.request.destination, config().address);
    auto e2 = poll(source, kEpoch2026 + Nanoseconds(64'000 * kMs), random);
    EXPECT_NE(e2.request.request_id, e.request.request_id);
    EXPECT_NE(parse_header(e2.request.packet)->transmit_time, h.transmit_time);
    EXPECT_EQ(source.counters().timeouts, 1u);
}

TEST(NtpSource, ValidReplyProducesSampleAndSystemUpdate) {
    SplitMix64 random(2);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    auto actions = answer(source, e.request, kEpoch2026);
    auto updates = actions_of<UpdateSystem>(actions);
    ASSERT_EQ(updates.size(), 1u);
    const SourceSnapshot& s = updates[0].snapshot;
    EXPECT_NEAR(s.statistics.offset, 0.005, 1e-9);
    EXPECT_NEAR(s.statistics.delay, 0.020, 1e-9);
    EXPECT_EQ(s.reach, 1);
    EXPECT_EQ(s.stratum, 1);
    EXPECT_EQ(s.address_reference_id, 0xc0000201U);
    EXPECT_EQ(source.counters().replies_accepted, 1u);
}

TEST(NtpSource, BogusDuplicateAndMismatchedRepliesAreDropped) {
    SplitMix64 random(3);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    // Wrong origin (TEST2).
    auto forged = make_reply(e.request.packet, kEpoch2026, kEpoch2026);
    forged[24] ^= 1;
    EXPECT_TRUE(source.handle_packet(forged, e.request.request_id, kEpoch2026).empty());
    EXPECT_EQ(source.counters().bogus, 1u);
    // Right origin, wrong request ID (arrived on another socket).
    auto reply = make_reply(e.request.packet, kEpoch2026, kEpoch2026);
    EXPECT_TRUE(source.handle_packet(reply, e.request.request_id + 1, kEpoch2026).empty());
    EXPECT_EQ(source.counters().bogus, 2u);
    // The genuine one, then a replay of it (TEST1).
    EXPECT_FALSE(answer(source, e.request, kEpoch2026).empty());
    EXPECT_TRUE(answer(source, e.request, kEpoch2026).empty());
    EXPECT_EQ(source.counters().duplicate, 1u);
    // Malformed and wrong mode.
    EXPECT_TRUE(source.handle_packet(std::vector<uint8_t>(10), 0, kEpoch2026).empty());
    EXPECT_EQ(source.counters().malformed, 1u);
    auto e2 = poll(source, kEpoch2026 + from_seconds(64), random);
    auto client_mode = testing::with_header(make_reply(e2.request.packet, kEpoch2026, kEpoch2026),
                                            [](NtpHeader& h) { h.mode = Mode::Client; });
    EXPECT_TRUE(source.handle_packet(client_mode, e2.request.request_id, kEpoch2026).empty());
    EXPECT_EQ(source.counters().wrong_mode, 1u);
}

TEST(NtpSource, UnsynchronizedServerIsReachableButGivesNoSample) {
    SplitMix64 random(4);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    auto reply = testing::with_header(make_reply(e.request.packet, kEpoch2026, kEpoch2026),
                                      [](NtpHeader& h) {
                                          h.leap = LeapIndicator::Unsynchronized;
                                          h.stratum = 16;
                                      });
    EXPECT_TRUE(source.handle_packet(reply, e.request.request_id, kEpoch2026).empty());
    EXPECT_EQ(source.reach(), 1);
    EXPECT_EQ(source.counters().unsynchronized, 1u);
    EXPECT_FALSE(source.filter().has_statistics());
}

TEST(NtpSource, BadHeaderAndZeroTimestampsAreRejected) {
    SplitMix64 random(5);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    auto huge = testing::with_header(make_reply(e.request.packet, kEpoch2026, kEpoch2026),
                                     [](NtpHeader& h) { h.root_dispersion = NtpShort{20u << 16}; });
    EXPECT_TRUE(source.handle_packet(huge, e.request.request_id, kEpoch2026).empty());
    EXPECT_EQ(source.counters().bad_header, 1u);
    auto e2 = poll(source, kEpoch2026 + from_seconds(64), random);
    auto zero = testing::with_header(make_reply(e2.request.packet, kEpoch2026, kEpoch2026),
                                     [](NtpHeader& h) { h.transmit_time = NtpTimestamp{}; });
    EXPECT_TRUE(source.handle_packet(zero, e2.request.request_id, kEpoch2026).empty());
    EXPECT_EQ(source.counters().invalid_timestamps, 1u);
}

std::vector<uint8_t> kiss(const SendRequest& request, uint32_t code, int8_t poll = 0) {
    auto reply = make_reply(request.packet, kEpoch2026, kEpoch2026);
    NtpHeader h = *parse_header(reply);
    h.stratum = 0;
    h.leap = LeapIndicator::Unsynchronized;
    h.reference_id = code;
    h.poll = poll;
    const auto bytes = serialize_header(h);
    return {bytes.begin(), bytes.end()};
}

TEST(NtpSource, KissRateBacksOffPoll) {
    SplitMix64 random(6);
    NtpSource source(1, config(true));
    auto e = poll(source, kEpoch2026, random);
    auto actions =
        source.handle_packet(kiss(e.request, kKissRate, 9), e.request.request_id, kEpoch2026);
    EXPECT_EQ(source.counters().kiss_rate, 1u);
    EXPECT_EQ(source.poll(), 9);  // server asked for 2^9 s
    auto timers = actions_of<SetTimer>(actions);
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers[0].after, from_seconds(512));
    // The burst is over and the poll never drops below the new floor.
    auto next = poll(source, kEpoch2026 + from_seconds(512), random);
    auto next_timer = actions_of<SetTimer>(next.timer_actions);
    EXPECT_GE(next_timer[0].after, from_seconds(512));
}

TEST(NtpSource, KissRateWithoutMatchingOriginIsIgnored) {
    SplitMix64 random(7);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    auto forged = kiss(e.request, kKissDeny);
    forged[30] ^= 0xff;  // origin mismatch: an off-path attacker
    EXPECT_TRUE(source.handle_packet(forged, e.request.request_id, kEpoch2026).empty());
    EXPECT_FALSE(source.demobilized());
}

TEST(NtpSource, KissDenyAndRstrDemobilize) {
    for (uint32_t code : {kKissDeny, kKissRstr}) {
        SplitMix64 random(8);
        NtpSource source(1, config());
        auto e = poll(source, kEpoch2026, random);
        auto actions =
            source.handle_packet(kiss(e.request, code), e.request.request_id, kEpoch2026);
        auto stops = actions_of<Demobilize>(actions);
        ASSERT_EQ(stops.size(), 1u);
        EXPECT_EQ(stops[0].reason,
                  code == kKissDeny ? DemobilizeReason::KissDeny : DemobilizeReason::KissRstr);
        EXPECT_TRUE(source.demobilized());
        EXPECT_TRUE(source.handle_timer(kEpoch2026 + from_seconds(64), random).empty());
    }
}

TEST(NtpSource, IburstSendsQuicklyThenSettlesToPoll) {
    SplitMix64 random(9);
    NtpSource source(1, config(true));
    NtpInstant now = kEpoch2026;
    int burst_polls = 0;
    for (int i = 0; i < 10; ++i) {
        auto e = poll(source, now, random);
        answer(source, e.request, now);
        auto timer = actions_of<SetTimer>(e.timer_actions).at(0);
        if (timer.after == kBurstSpacing) ++burst_polls;
        now += timer.after;
    }
    // On a 20 ms path the frequency is not known to 0.5 ppm within the burst
    // (each sample could be off by half the delay): all 8 requests go out.
    EXPECT_EQ(burst_polls, 8);
    EXPECT_EQ(source.reach(), 0xff);
}

// On a short quiet path (10 us round trip: the same host or a direct cable)
// the frequency is known early: the burst ends once the 4 samples of the
// startup quorum are in and the estimate is good enough.
TEST(NtpSource, IburstEndsEarlyWhenTheFrequencyIsKnown) {
    SplitMix64 random(9);
    NtpSource source(1, config(true));
    NtpInstant now = kEpoch2026;
    int burst_polls = 0;
    for (int i = 0; i < 10; ++i) {
        auto e = poll(source, now, random);
        const auto reply =
            make_reply(e.request.packet, now + Nanoseconds(4'000), now + Nanoseconds(6'000));
        source.handle_packet(reply, e.request.request_id, now + Nanoseconds(10'000));
        auto timer = actions_of<SetTimer>(e.timer_actions).at(0);
        if (timer.after == kBurstSpacing) ++burst_polls;
        now += timer.after;
    }
    EXPECT_GE(burst_polls, 4);
    EXPECT_LT(burst_polls, 8);
}

TEST(NtpSource, UnreachableAfterEightSilentPollsThenBacksOff) {
    SplitMix64 random(10);
    NtpSource source(1, config());
    NtpInstant now = kEpoch2026;
    auto e = poll(source, now, random);
    answer(source, e.request, now);
    int resets = 0;
    for (int i = 0; i < 12; ++i) {
        now += from_seconds(64);
        auto actions = source.handle_timer(now, random);
        for (const auto& r : actions_of<Reset>(actions)) {
            EXPECT_EQ(r.reason, ResetReason::Unreachable);
            ++resets;
        }
    }
    EXPECT_EQ(resets, 1);
    EXPECT_EQ(source.reach(), 0);
    EXPECT_FALSE(source.filter().has_statistics());
    EXPECT_GT(source.poll(), 6);
    EXPECT_LE(source.poll(), 10);
}

TEST(NtpSource, PollIncreasesTowardMaxpollWhenStable) {
    SplitMix64 random(11);
    NtpSource source(1, config());
    NtpInstant now = kEpoch2026;
    for (int i = 0; i < 60; ++i) {
        auto e = poll(source, now, random);
        answer(source, e.request, now);
        now += actions_of<SetTimer>(e.timer_actions).at(0).after;
    }
    EXPECT_EQ(source.poll(), 10);
}

// minpoll = maxpoll = 3 (the lowest the configuration allows, 8 s) is kept,
// not raised to RFC 5905's MINPOLL of 4.
TEST(NtpSource, MinpollThreePollsEveryEightSeconds) {
    SplitMix64 random(13);
    SourceConfig c = config();
    c.minpoll = 3;
    c.maxpoll = 3;
    NtpSource source(1, c);
    NtpInstant now = kEpoch2026;
    for (int i = 0; i < 20; ++i) {
        auto e = poll(source, now, random);
        EXPECT_EQ(parse_header(e.request.packet)->poll, 3);
        answer(source, e.request, now);
        const Nanoseconds after = actions_of<SetTimer>(e.timer_actions).at(0).after;
        EXPECT_GE(to_seconds(after), 8.0);
        EXPECT_LE(to_seconds(after), 8.5);  // + up to 1/16 random spread
        now += after;
    }
    EXPECT_EQ(source.poll(), 3);
}

TEST(PollController, RangeIsThreeToSeventeen) {
    EXPECT_EQ(kMinPoll, 3);
    EXPECT_EQ(kMaxPoll, 17);
    PollController lan(3, 6);
    EXPECT_EQ(lan.poll(), 3);
    EXPECT_EQ(lan.minpoll(), 3);
    EXPECT_DOUBLE_EQ(lan.interval_seconds(), 8.0);
    PollController low(1, 2);  // below the range: clamped to 3
    EXPECT_EQ(low.poll(), 3);
    EXPECT_EQ(low.maxpoll(), 3);
    PollController high(18, 20);
    EXPECT_EQ(high.poll(), 17);
    EXPECT_EQ(high.maxpoll(), 17);
    // Unstable samples never take it below minpoll.
    for (int i = 0; i < 100; ++i) lan.on_sample(1.0, 0.001);
    EXPECT_EQ(lan.poll(), 3);
}

TEST(NtpSource, ClockStepResetsTheFilter) {
    SplitMix64 random(12);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    answer(source, e.request, kEpoch2026);
    auto actions = source.reset_after_clock_step();
    ASSERT_EQ(actions_of<Reset>(actions).size(), 1u);
    EXPECT_FALSE(source.filter().has_statistics());
}

TEST(NtpSource, ReplyToARequestSentBeforeAStepGivesNoSample) {
    SplitMix64 random(13);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    // The clock is stepped 1 s forward while the request is out: t4 comes
    // from the new timescale, t1 from the old; the offset would read -0.995 s.
    source.apply_step(1.0);
    const auto reply = make_reply(e.request.packet, kEpoch2026 + Nanoseconds(15 * kMs),
                                  kEpoch2026 + Nanoseconds(15 * kMs + 100'000));
    auto actions = source.handle_packet(reply, e.request.request_id,
                                        kEpoch2026 + Nanoseconds(1'020 * kMs + 100'000));
    EXPECT_TRUE(actions_of<UpdateSystem>(actions).empty());
    EXPECT_EQ(source.counters().replies_accepted, 0u);
    EXPECT_EQ(source.counters().across_step, 1u);
    EXPECT_EQ(source.reach(), 1);  // the server did answer
    // The next exchange, wholly after the step, is used.
    auto e2 = poll(source, kEpoch2026 + Nanoseconds(65'000 * kMs), random);
    auto updates = actions_of<UpdateSystem>(
        answer(source, e2.request, kEpoch2026 + Nanoseconds(65'000 * kMs)));
    ASSERT_EQ(updates.size(), 1u);
    EXPECT_NEAR(updates[0].snapshot.statistics.offset, 0.005, 1e-9);
}

TEST(NtpSource, KernelTransmitTimestampReplacesT1) {
    SplitMix64 random(21);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    // The datagram left 3 ms after the request was prepared: with the kernel
    // stamp as t1 the delay shrinks by 3 ms and the offset moves by 1.5 ms.
    const NtpInstant sent = kEpoch2026 + Nanoseconds(3 * kMs);
    EXPECT_FALSE(source.handle_transmit_timestamp(e.request.request_id + 1, sent));
    EXPECT_TRUE(source.handle_transmit_timestamp(e.request.request_id, sent));
    EXPECT_EQ(source.counters().kernel_tx_timestamps, 1u);
    auto updates = actions_of<UpdateSystem>(answer(source, e.request, kEpoch2026));
    ASSERT_EQ(updates.size(), 1u);
    EXPECT_NEAR(updates[0].snapshot.statistics.delay, 0.017, 1e-9);
    EXPECT_NEAR(updates[0].snapshot.statistics.offset, 0.0035, 1e-9);
    // Once answered, a late stamp for the same request changes nothing.
    EXPECT_FALSE(source.handle_transmit_timestamp(e.request.request_id, sent));
}

TEST(NtpSource, ImplausibleTransmitTimestampIsIgnored) {
    SplitMix64 random(22);
    NtpSource source(1, config());
    auto e = poll(source, kEpoch2026, random);
    // Before the request existed, or long after it: not this datagram's stamp.
    EXPECT_FALSE(
        source.handle_transmit_timestamp(e.request.request_id, kEpoch2026 - Nanoseconds(1)));
    EXPECT_FALSE(source.handle_transmit_timestamp(e.request.request_id,
                                                  kEpoch2026 + kMaxTransmitLag + Nanoseconds(1)));
    EXPECT_EQ(source.counters().kernel_tx_timestamps, 0u);
    auto updates = actions_of<UpdateSystem>(answer(source, e.request, kEpoch2026));
    ASSERT_EQ(updates.size(), 1u);
    EXPECT_NEAR(updates[0].snapshot.statistics.delay, 0.020, 1e-9);
    // A stamp for the previous request does not apply to the next one.
    auto e2 = poll(source, kEpoch2026 + from_seconds(64), random);
    EXPECT_FALSE(
        source.handle_transmit_timestamp(e.request.request_id, kEpoch2026 + from_seconds(64)));
    EXPECT_TRUE(
        source.handle_transmit_timestamp(e2.request.request_id, kEpoch2026 + from_seconds(64)));
}

// Interleaved mode (xleave, RFC 9769): the server is 5 ms ahead, 10 ms away
// each way, and writes its basic transmit timestamp 400 us before the reply
// actually leaves (a user-space stamp, then the send path): a basic exchange
// is off by 200 us. The interleaved reply to the next request carries the
// true transmit time of the previous reply, and that exchange is exact.
TEST(NtpSource, InterleavedModeTakesTheTrueTransmitTimeOfThePreviousReply) {
    SplitMix64 random(31);
    SourceConfig c = config();
    c.xleave = true;
    NtpSource source(1, c);
    const Nanoseconds ms(kMs);
    auto server_time = [&](NtpInstant local) { return local + 5 * ms; };

    // Exchange 1: basic (nothing to interleave with yet).
    const NtpInstant s1 = kEpoch2026;
    auto e1 = poll(source, s1, random);
    EXPECT_FALSE(source.last_exchange());
    ASSERT_TRUE(source.handle_transmit_timestamp(e1.request.request_id, s1));  // t1 from the kernel
    const NtpHeader q1 = *parse_header(e1.request.packet);
    EXPECT_TRUE(q1.origin_time.is_zero());
    EXPECT_TRUE(q1.receive_time.is_zero());
    const NtpInstant t2_1 = server_time(s1 + 10 * ms);
    const NtpInstant left_1 = t2_1 + Nanoseconds(500'000);  // server clock
    const NtpInstant t4_1 = s1 + 20 * ms + Nanoseconds(500'000);
    auto basic =
        source.handle_packet(make_reply(e1.request.packet, t2_1, left_1 - Nanoseconds(400'000)),
                             e1.request.request_id, t4_1, StampSource::Daemon);
    auto u1 = actions_of<UpdateSystem>(basic);
    ASSERT_EQ(u1.size(), 1u);
    ASSERT_TRUE(source.last_exchange());
    EXPECT_FALSE(source.last_exchange()->kind.interleaved);
    EXPECT_EQ(source.last_exchange()->kind.transmit, StampSource::Kernel);
    EXPECT_EQ(source.last_exchange()->kind.receive, StampSource::Daemon);
    EXPECT_NEAR(u1[0].snapshot.statistics.offset, 0.0048, 1e-9);  // 200 us off

    // Exchange 2: the request names exchange 1 (origin = its t2, receive =
    // its t4); the server answers interleaved.
    const NtpInstant s2 = s1 + from_seconds(64);
    auto e2 = poll(source, s2, random);
    const NtpHeader q2 = *parse_header(e2.request.packet);
    EXPECT_EQ(q2.origin_time, t2_1.to_timestamp());
    EXPECT_EQ(q2.receive_time, t4_1.to_timestamp());
    std::vector<uint8_t> reply =
        make_reply(e2.request.packet, server_time(s2 + 10 * ms), server_time(s2 + 10 * ms));
    NtpHeader r = *parse_header(reply);
    r.origin_time = q2.receive_time;
    r.transmit_time = left_1.to_timestamp();
    const auto bytes = serialize_header(r);
    std::copy(bytes.begin(), bytes.end(), reply.begin());
    auto u2 = actions_of<UpdateSystem>(
        source.handle_packet(reply, e2.request.request_id, s2 + 20 * ms + Nanoseconds(500'000)));
    EXPECT_EQ(source.counters().bogus, 0u);
    EXPECT_EQ(source.counters().invalid_timestamps, 0u);
    EXPECT_EQ(source.counters().bad_header, 0u);
    ASSERT_EQ(u2.size(), 1u);
    EXPECT_EQ(source.counters().interleaved, 1u);
    // Measured with exchange 1's t1 and t4, so their sources.
    EXPECT_TRUE(source.last_exchange()->kind.interleaved);
    EXPECT_EQ(source.last_exchange()->kind.transmit, StampSource::Kernel);
    EXPECT_EQ(source.last_exchange()->kind.receive, StampSource::Daemon);
    // The newest sample is exchange 1's, now exact.
    EXPECT_NEAR(source.filter().stages()[0].offset, 0.005, 1e-9);
    EXPECT_EQ(source.filter().stages()[0].time, t4_1);  // when it arrived
    EXPECT_NEAR(u2[0].snapshot.statistics.delay, 0.020, 1e-9);

    // A server that lost our state answers an interleaved request in basic
    // mode (origin = our cookie): still a valid sample.
    auto e3 = poll(source, s2 + from_seconds(64), random);
    EXPECT_FALSE(parse_header(e3.request.packet)->origin_time.is_zero());
    EXPECT_FALSE(answer(source, e3.request, s2 + from_seconds(64)).empty());
    EXPECT_EQ(source.counters().replies_accepted, 3u);
    EXPECT_EQ(source.counters().interleaved, 1u);
    EXPECT_FALSE(source.last_exchange()->kind.interleaved);  // fell back to basic
    EXPECT_EQ(source.last_exchange()->kind.transmit, StampSource::Daemon);
    EXPECT_EQ(source.last_exchange()->kind.receive, StampSource::Kernel);
    // A reply that names neither the cookie nor our receive field is bogus.
    auto e4 = poll(source, s2 + from_seconds(128), random);
    auto forged = make_reply(e4.request.packet, kEpoch2026, kEpoch2026);
    forged[24] ^= 1;
    EXPECT_TRUE(source.handle_packet(forged, e4.request.request_id, kEpoch2026).empty());
    EXPECT_EQ(source.counters().bogus, 1u);
}

// Without xleave the request never names a previous exchange.
TEST(NtpSource, BasicModeRequestsCarryNoOriginOrReceive) {
    SplitMix64 random(32);
    NtpSource source(1, config());
    auto e1 = poll(source, kEpoch2026, random);
    ASSERT_FALSE(answer(source, e1.request, kEpoch2026).empty());
    auto e2 = poll(source, kEpoch2026 + from_seconds(64), random);
    const NtpHeader q = *parse_header(e2.request.packet);
    EXPECT_TRUE(q.origin_time.is_zero());
    EXPECT_TRUE(q.receive_time.is_zero());
}

// nanotimectl burst: kManualBurstRequests polls kBurstSpacing apart, the
// first at once, then the regular poll; the burst's samples leave the poll.
TEST(NtpSource, ManualBurstPollsFourTimesTwoSecondsApartThenTheRegularPoll) {
    SplitMix64 random(40);
    NtpSource source(1, config());
    NtpInstant now = kEpoch2026;
    poll(source, now, random);
    auto started = source.start_burst(kManualBurstRequests);
    auto timers = actions_of<SetTimer>(started);
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers[0].after, Nanoseconds(0));
    EXPECT_TRUE(source.in_burst());
    for (unsigned i = 0; i < kManualBurstRequests; ++i) {
        now = now + Nanoseconds(1000 * kMs);
        auto e = poll(source, now, random);
        answer(source, e.request, now);
        auto next = actions_of<SetTimer>(e.timer_actions);
        ASSERT_EQ(next.size(), 1u);
        if (i + 1 < kManualBurstRequests) {
            EXPECT_EQ(next[0].after, kBurstSpacing) << "request " << i;
        } else {
            EXPECT_GE(next[0].after, from_seconds(64.0)) << "back to the regular poll";
        }
    }
    EXPECT_FALSE(source.in_burst());
    EXPECT_EQ(source.poll(), 6);
}

TEST(NtpSource, OfflineStopsPollingAndOnlineResumesWithinASecond) {
    SplitMix64 random(41);
    NtpSource source(1, config());
    poll(source, kEpoch2026, random);
    EXPECT_TRUE(source.online());
    EXPECT_TRUE(source.set_online(false, random).empty());
    EXPECT_FALSE(source.online());
    // The armed poll fires: nothing sent, no timer armed, reach not shifted.
    const uint8_t reach = source.reach();
    EXPECT_TRUE(source.handle_timer(kEpoch2026 + from_seconds(64), random).empty());
    EXPECT_EQ(source.reach(), reach);
    EXPECT_EQ(source.counters().requests_sent, 1u);
    // Offline twice changes nothing; online arms the first poll within 1 s.
    EXPECT_TRUE(source.set_online(false, random).empty());
    auto resumed = actions_of<SetTimer>(source.set_online(true, random));
    ASSERT_EQ(resumed.size(), 1u);
    EXPECT_LT(resumed[0].after, from_seconds(1.0));
    poll(source, kEpoch2026 + from_seconds(100), random);
    EXPECT_EQ(source.counters().requests_sent, 2u);
}

// chronyc's burst on an offline source: the burst goes out, then the source
// stays offline.
TEST(NtpSource, BurstOnAnOfflineSourceEndsOffline) {
    SplitMix64 random(42);
    NtpSource source(1, config());
    source.set_online(false, random);
    source.start_burst(2);
    auto first = poll(source, kEpoch2026, random);
    EXPECT_EQ(actions_of<SetTimer>(first.timer_actions).size(), 1u);
    auto last = poll(source, kEpoch2026 + kBurstSpacing, random);
    EXPECT_TRUE(actions_of<SetTimer>(last.timer_actions).empty());
    EXPECT_TRUE(source.handle_timer(kEpoch2026 + from_seconds(10), random).empty());
}

TEST(NtpSource, PollLimitsChangeWithinBoundsAndBadOnesChangeNothing) {
    SplitMix64 random(43);
    NtpSource source(1, config());
    EXPECT_FALSE(source.set_poll_limits(static_cast<int8_t>(kMinPoll - 1), 10));
    EXPECT_FALSE(source.set_poll_limits(6, static_cast<int8_t>(kMaxPoll + 1)));
    EXPECT_FALSE(source.set_poll_limits(9, 8));
    EXPECT_EQ(source.minpoll(), 6);
    EXPECT_EQ(source.maxpoll(), 10);
    // A higher minpoll moves the poll up at once: the next request says so.
    ASSERT_TRUE(source.set_poll_limits(8, 12));
    EXPECT_EQ(source.poll(), 8);
    EXPECT_EQ(source.config().minpoll, 8);
    EXPECT_EQ(source.config().maxpoll, 12);
    auto e = poll(source, kEpoch2026, random);
    EXPECT_EQ(parse_header(e.request.packet)->poll, 8);
    // A lower maxpoll caps it.
    ASSERT_TRUE(source.set_poll_limits(4, 5));
    EXPECT_EQ(source.poll(), 5);
}

}  // namespace
}  // namespace nanotime::ntp
