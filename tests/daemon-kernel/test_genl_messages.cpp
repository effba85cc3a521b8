// Decoding the nanoclock modules' netlink messages, built with libnl exactly
// as the kernel lays them out (uapi/linux/nanoclock.h).
#include <gtest/gtest.h>
#include <linux/nanoclock.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <sys/timex.h>

#include <cstring>
#include <functional>
#include <vector>

#include "kernel/genl_messages.hpp"

namespace nanotime::kernel {
namespace {

// Builds one generic-netlink message and returns its payload (after the
// nlmsghdr) in 4-byte aligned storage.
class Message {
  public:
    Message(uint8_t cmd, const std::function<void(nl_msg*)>& fill) {
        nl_msg* m = nlmsg_alloc();
        genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, 0x20, 0, 0, cmd, 1);
        fill(m);
        const nlmsghdr* h = nlmsg_hdr(m);
        const size_t n = static_cast<size_t>(nlmsg_datalen(h));
        storage_.resize((n + 3) / 4);
        std::memcpy(storage_.data(), nlmsg_data(h), n);
        size_ = n;
        nlmsg_free(m);
    }
    std::span<const uint8_t> payload() const {
        return {reinterpret_cast<const uint8_t*>(storage_.data()), size_};
    }

  private:
    std::vector<uint32_t> storage_;
    size_t size_ = 0;
};

void put_clock_basics(nl_msg* m) {
    nla_put_u32(m, NANOCLOCK_A_INDEX, 2);
    nla_put_string(m, NANOCLOCK_A_NAME, "nanoclock2");
    nla_put_s32(m, NANOCLOCK_A_PTP_INDEX, 5);
    nla_put_s64(m, NANOCLOCK_A_TIME_SEC, 2'200'000'000LL);  // past 2038
    nla_put_u32(m, NANOCLOCK_A_TIME_NSEC, 999'999'999);
    nla_put_u64(m, NANOCLOCK_A_PCC_NS, 123'456'789'012ULL);
    nla_put_s32(m, NANOCLOCK_A_STATE, TIME_INS);
    nla_put_u32(m, NANOCLOCK_A_STATUS, STA_PLL | STA_PPSSIGNAL | STA_INS);
    nla_put_s32(m, NANOCLOCK_A_TAI, 37);
    nla_put_s64(m, NANOCLOCK_A_MAXERROR, 16000);
    nla_put_s64(m, NANOCLOCK_A_OFFSET, -1234);
    nla_put_s64(m, NANOCLOCK_A_FREQ, -20LL << 16);
    nla_put_s64(m, NANOCLOCK_A_PPSFREQ, (20LL << 16) + 5);
    nla_put_s32(m, NANOCLOCK_A_SHIFT, 8);
    nla_put_s64(m, NANOCLOCK_A_CALCNT, 17);
}

TEST(GenlMessages, DecodesEveryClockField) {
    Message msg(NANOCLOCK_CMD_GET_CLOCK, put_clock_basics);
    std::string error;
    auto c = decode_clock(msg.payload(), &error);
    ASSERT_TRUE(c) << error;
    EXPECT_EQ(c->index, 2u);
    EXPECT_EQ(c->name, "nanoclock2");
    EXPECT_EQ(c->ptp_index, 5);
    EXPECT_EQ(c->time_sec, 2'200'000'000LL);
    EXPECT_EQ(c->time_nsec, 999'999'999u);
    EXPECT_EQ(c->pcc_ns, 123'456'789'012ULL);
    EXPECT_EQ(c->state, TIME_INS);
    EXPECT_EQ(c->status, static_cast<uint32_t>(STA_PLL | STA_PPSSIGNAL | STA_INS));
    EXPECT_EQ(c->tai, 37);
    EXPECT_EQ(c->maxerror_us, 16000);
    EXPECT_EQ(c->offset_ns, -1234);
    EXPECT_EQ(c->freq, -20LL << 16);
    EXPECT_EQ(c->ppsfreq, (20LL << 16) + 5);
    EXPECT_EQ(c->shift, 8);
    EXPECT_EQ(c->calcnt, 17);
    EXPECT_FALSE(c->event);
    EXPECT_EQ(genl_command(msg.payload()), NANOCLOCK_CMD_GET_CLOCK);
}

TEST(GenlMessages, EventCarriesItsKind) {
    Message msg(NANOCLOCK_CMD_EVENT, [](nl_msg* m) {
        put_clock_basics(m);
        nla_put_u32(m, NANOCLOCK_A_EVENT, NANOCLOCK_EV_PPS_LOST);
    });
    auto c = decode_clock(msg.payload(), nullptr);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->event);
    EXPECT_EQ(clock_event_name(*c->event), "pps-lost");
    EXPECT_EQ(clock_event_name(999), "event-999");
}

TEST(GenlMessages, ClockWithoutRequiredAttributeIsRefused) {
    Message msg(NANOCLOCK_CMD_GET_CLOCK, [](nl_msg* m) {
        nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
        nla_put_s32(m, NANOCLOCK_A_STATE, TIME_OK);  // no STATUS
    });
    std::string error;
    EXPECT_FALSE(decode_clock(msg.payload(), &error));
    EXPECT_NE(error.find("lacks attribute"), std::string::npos) << error;
}

TEST(GenlMessages, WrongSizedAttributeIsRefused) {
    Message msg(NANOCLOCK_CMD_GET_CLOCK, [](nl_msg* m) {
        nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
        nla_put_s32(m, NANOCLOCK_A_STATE, TIME_OK);
        nla_put_u32(m, NANOCLOCK_A_STATUS, 0);
        nla_put_u32(m, NANOCLOCK_A_OFFSET, 7);  // s64 expected
    });
    std::string error;
    EXPECT_FALSE(decode_clock(msg.payload(), &error));
    EXPECT_NE(error.find("policy"), std::string::npos) << error;
}

TEST(GenlMessages, UnterminatedNameIsRefused) {
    Message msg(NANOCLOCK_CMD_GET_CLOCK, [](nl_msg* m) {
        nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
        nla_put_s32(m, NANOCLOCK_A_STATE, TIME_OK);
        nla_put_u32(m, NANOCLOCK_A_STATUS, 0);
        nla_put(m, NANOCLOCK_A_NAME, 4, "abcd");  // no NUL
    });
    EXPECT_FALSE(decode_clock(msg.payload(), nullptr));
}

TEST(GenlMessages, NanosecondsOutOfRangeAreRefused) {
    Message msg(NANOCLOCK_CMD_GET_CLOCK, [](nl_msg* m) {
        nla_put_u32(m, NANOCLOCK_A_INDEX, 0);
        nla_put_s32(m, NANOCLOCK_A_STATE, TIME_OK);
        nla_put_u32(m, NANOCLOCK_A_STATUS, 0);
        nla_put_u32(m, NANOCLOCK_A_TIME_NSEC, 1'000'000'000);
    });
    EXPECT_FALSE(decode_clock(msg.payload(), nullptr));
}

TEST(GenlMessages, UnknownNewerAttributesAreIgnored) {
    Message msg(NANOCLOCK_CMD_GET_CLOCK, [](nl_msg* m) {
        put_clock_basics(m);
        nla_put_u64(m, NANOCLOCK_A_MAX + 7, 42);  // from a newer module
    });
    EXPECT_TRUE(decode_clock(msg.payload(), nullptr));
}

TEST(GenlMessages, ShortOrMisalignedInputIsRefused) {
    const uint8_t two[2] = {1, 2};
    EXPECT_FALSE(decode_clock({two, 2}, nullptr));
    EXPECT_FALSE(genl_command({two, 2}));
    Message msg(NANOCLOCK_CMD_GET_CLOCK, put_clock_basics);
    std::vector<uint8_t> shifted(msg.payload().size() + 1);
    std::memcpy(shifted.data() + 1, msg.payload().data(), msg.payload().size());
    std::string error;
    EXPECT_FALSE(decode_clock({shifted.data() + 1, msg.payload().size()}, &error));
    EXPECT_NE(error.find("aligned"), std::string::npos);
}

TEST(GenlMessages, DecodesPpsSource) {
    Message msg(NANOCLOCK_PPS_CMD_EDGE, [](nl_msg* m) {
        nla_put_u32(m, NANOCLOCK_PPS_A_SOURCE, 3);
        nla_put_string(m, NANOCLOCK_PPS_A_NAME, "bridge0");
        nla_put_string(m, NANOCLOCK_PPS_A_KIND, "bridge");
        nla_put_u32(m, NANOCLOCK_PPS_A_PPS_INDEX, 1);
        nla_put_s32(m, NANOCLOCK_PPS_A_CLOCK, 0);
        nla_put_u8(m, NANOCLOCK_PPS_A_PPSTIME, 1);
        nla_put_u8(m, NANOCLOCK_PPS_A_PPSFREQ, 0);
        nla_put_u64(m, NANOCLOCK_PPS_A_EDGES, 100);
        nla_put_u64(m, NANOCLOCK_PPS_A_FED, 98);
        nla_put_u64(m, NANOCLOCK_PPS_A_REJECTED, 2);
        nla_put_s64(m, NANOCLOCK_PPS_A_PHASE, -850);
        nla_put_s64(m, NANOCLOCK_PPS_A_JITTER, 1200);
        nla_put_u64(m, NANOCLOCK_PPS_A_COST_MEAN, 2600);
        nla_put_u64(m, NANOCLOCK_PPS_A_INJECT_PCC, 77);
    });
    std::string error;
    auto s = decode_pps_source(msg.payload(), &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->index, 3u);
    EXPECT_EQ(s->name, "bridge0");
    EXPECT_EQ(s->kind, "bridge");
    EXPECT_EQ(s->pps_index, 1u);
    EXPECT_EQ(s->clock, 0);
    EXPECT_TRUE(s->pps_time);
    EXPECT_FALSE(s->pps_freq);
    EXPECT_EQ(s->edges, 100u);
    EXPECT_EQ(s->fed, 98u);
    EXPECT_EQ(s->rejected, 2u);
    EXPECT_EQ(s->phase_ns, -850);
    EXPECT_EQ(s->jitter_ns, 1200);
    EXPECT_EQ(s->cost_mean_ns, 2600u);
    EXPECT_EQ(s->inject_pcc_ns, 77u);
}

TEST(GenlMessages, PpsSourceWithoutNameIsRefused) {
    Message msg(NANOCLOCK_PPS_CMD_EDGE, [](nl_msg* m) {
        nla_put_u32(m, NANOCLOCK_PPS_A_SOURCE, 3);
        nla_put_string(m, NANOCLOCK_PPS_A_KIND, "sim");
    });
    std::string error;
    EXPECT_FALSE(decode_pps_source(msg.payload(), &error));
    EXPECT_NE(error.find("PPS source message lacks"), std::string::npos) << error;
}

TEST(GenlMessages, ExtackMessageIsFound) {
    // struct nlattr {len, type} + text: NLMSGERR_ATTR_MSG after an OFFS attribute.
    std::vector<uint8_t> tlvs;
    auto add = [&](uint16_t type, const void* data, uint16_t n) {
        const uint16_t len = static_cast<uint16_t>(NLA_HDRLEN + n);
        tlvs.insert(tlvs.end(), {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8),
                                 static_cast<uint8_t>(type), static_cast<uint8_t>(type >> 8)});
        const auto* p = static_cast<const uint8_t*>(data);
        tlvs.insert(tlvs.end(), p, p + n);
        while (tlvs.size() % 4) tlvs.push_back(0);
    };
    const uint32_t offs = 20;
    add(NLMSGERR_ATTR_OFFS, &offs, 4);
    add(NLMSGERR_ATTR_MSG, "timestamp older than 2 s", 25);
    EXPECT_EQ(extack_message(tlvs), "timestamp older than 2 s");
    // Truncated: the length runs past the end.
    tlvs.resize(tlvs.size() - 8);
    EXPECT_EQ(extack_message(tlvs), "");
}

}  // namespace
}  // namespace nanotime::kernel
