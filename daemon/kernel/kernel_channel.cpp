#include "kernel/kernel_channel.hpp"

#include <linux/nanoclock.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <span>
#include <system_error>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace nanotime::kernel {
namespace {

constexpr int kEventBufferBytes = 1 << 20;  // room for bursts of EDGE events

std::span<const uint8_t> payload_of(const nlmsghdr* h) {
    return {reinterpret_cast<const uint8_t*>(nlmsg_data(h)), static_cast<size_t>(nlmsg_datalen(h))};
}

nl_sock* open_socket(const char* what) {
    nl_sock* sk = nl_socket_alloc();
    if (sk == nullptr) throw std::system_error(ENOMEM, std::generic_category(), what);
    const int r = genl_connect(sk);
    if (r < 0) {
        nl_socket_free(sk);
        throw std::system_error(ECONNREFUSED, std::generic_category(),
                                std::string(what) + ": generic netlink: " + nl_geterror(r));
    }
    return sk;
}

// A fresh nl_cb does libnl's own sequence check (against the socket's next
// expected number), which multicasts (seq 0) and stale replies fail; our
// callbacks match sequence numbers themselves.
int accept_any_sequence(nl_msg*, void*) {
    return NL_OK;
}

nl_cb* new_callbacks() {
    nl_cb* cb = nl_cb_alloc(NL_CB_CUSTOM);
    if (cb != nullptr) nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, accept_any_sequence, nullptr);
    return cb;
}

void set_int_option(nl_sock* sk, int level, int option, int value) {
    // Best effort: without EXT_ACK the errors just lack the module's text.
    setsockopt(nl_socket_get_fd(sk), level, option, &value, sizeof value);
}

}  // namespace

// One request in flight: what was sent and what came back.
struct KernelChannel::Request {
    nl_msg* msg = nullptr;
    bool dump = false;
    uint32_t seq = 0;
    bool done = false;
    RequestStatus status;
    std::function<void(const nlmsghdr*)> on_reply;
};

KernelChannel::KernelChannel(const KernelChannelTarget& target) {
    requests_ = open_socket("nanoclock requests");
    try {
        events_ = open_socket("nanoclock events");
    } catch (...) {
        nl_socket_free(requests_);
        throw;
    }
    // Replies are matched by sequence number in our callbacks, so a reply
    // that outlived a timed-out request is skipped instead of failing the
    // next one.
    nl_socket_disable_seq_check(requests_);
    set_int_option(requests_, SOL_NETLINK, NETLINK_EXT_ACK, 1);
    set_int_option(requests_, SOL_NETLINK, NETLINK_CAP_ACK, 1);
    // Never waits for a reply: see kernel_channel.hpp (answers are queued
    // before sendmsg returns).
    nl_socket_set_nonblocking(requests_);
    if (target.peer_port != 0) nl_socket_set_peer_port(requests_, target.peer_port);
    clock_family_ = target.clock_family;
    pps_family_ = target.pps_family;

    nl_socket_disable_seq_check(events_);
    nl_socket_set_nonblocking(events_);
    nl_socket_set_buffer_size(events_, kEventBufferBytes, 0);
    refresh_families();
}

KernelChannel::~KernelChannel() {
    nl_socket_free(events_);
    nl_socket_free(requests_);
}

bool KernelChannel::refresh_families() {
    bool found = false;
    auto resolve = [&](int& family, const char* name, const char* group) {
        if (family >= 0) return;
        const int id = genl_ctrl_resolve(requests_, name);
        if (id < 0) return;
        const int grp = genl_ctrl_resolve_grp(requests_, name, group);
        if (grp < 0 || nl_socket_add_membership(events_, grp) < 0)
            events_missing_ += std::string(events_missing_.empty() ? "" : ", ") + name;
        family = id;
        found = true;
    };
    resolve(clock_family_, NANOCLOCK_GENL_NAME, NANOCLOCK_GENL_MCGRP_EVENTS);
    resolve(pps_family_, NANOCLOCK_PPS_GENL_NAME, NANOCLOCK_PPS_MCGRP_EVENTS);
    return found;
}

RequestStatus KernelChannel::transact(Request& rq) {
    ++counters_.requests;
    auto finish = [&](int error, std::string message) {
        if (error != 0) ++counters_.request_errors;
        return RequestStatus{error, std::move(message)};
    };
    const int sent = nl_send_auto(requests_, rq.msg);
    rq.seq = nlmsg_hdr(rq.msg)->nlmsg_seq;
    nlmsg_free(rq.msg);
    rq.msg = nullptr;
    if (sent < 0) return finish(-EIO, std::string("netlink send: ") + nl_geterror(sent));

    nl_cb* cb = new_callbacks();
    if (cb == nullptr) return finish(-ENOMEM, "netlink: out of memory");
    nl_cb_set(
        cb, NL_CB_VALID, NL_CB_CUSTOM,
        [](nl_msg* m, void* arg) -> int {
            auto* r = static_cast<Request*>(arg);
            if (nlmsg_hdr(m)->nlmsg_seq != r->seq) return NL_SKIP;
            if (r->on_reply) r->on_reply(nlmsg_hdr(m));
            return NL_OK;
        },
        &rq);
    auto done_cb = [](nl_msg* m, void* arg) -> int {
        auto* r = static_cast<Request*>(arg);
        if (nlmsg_hdr(m)->nlmsg_seq != r->seq) return NL_SKIP;
        r->done = true;
        return NL_STOP;
    };
    nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, done_cb, &rq);
    nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, done_cb, &rq);
    nl_cb_err(
        cb, NL_CB_CUSTOM,
        [](sockaddr_nl*, nlmsgerr* e, void* arg) -> int {
            auto* r = static_cast<Request*>(arg);
            // libnl hands us the payload of the NLMSG_ERROR message; its
            // header sits right before it (flags: are there extack TLVs?).
            const auto* outer = reinterpret_cast<const nlmsghdr*>(
                reinterpret_cast<const uint8_t*>(e) - NLMSG_HDRLEN);
            if (e->msg.nlmsg_seq != r->seq) return NL_SKIP;
            r->done = true;
            r->status.error = e->error;
            if (outer->nlmsg_flags & NLM_F_ACK_TLVS) {
                const size_t start = NLMSG_HDRLEN + sizeof(nlmsgerr);
                if (outer->nlmsg_len > start)
                    r->status.message =
                        extack_message({reinterpret_cast<const uint8_t*>(outer) + start,
                                        outer->nlmsg_len - start});
            }
            return NL_STOP;
        },
        &rq);

    // Everything the kernel answers is queued by now (a dump's next part is
    // made inside each receive). A dump of many sources spans several
    // datagrams; the cap only stops a kernel that keeps sending without
    // ever finishing. 0 from nl_recvmsgs_report: nothing queued (EAGAIN).
    int err = 0;
    for (int datagrams = 0; !rq.done && datagrams < 4096; ++datagrams) {
        err = nl_recvmsgs_report(requests_, cb);
        if (err <= 0 && !rq.done) break;
    }
    nl_cb_put(cb);
    if (!rq.done) {
        const bool none = err == 0 || err == -NLE_AGAIN;
        return finish(none ? -ENOMSG : -EIO,
                      none ? "no reply from the kernel (none was queued by the time the "
                             "request was handled)"
                           : std::string("netlink receive: ") + nl_geterror(err));
    }
    if (rq.status.error != 0 && rq.status.message.empty())
        rq.status.message = std::strerror(-rq.status.error);
    return finish(rq.status.error, rq.status.message);
}

std::optional<RequestStatus> KernelChannel::begin(Request& rq, Family family, uint8_t command,
                                                  int flags) {
    const bool pps = family == Family::Pps;
    if (!(pps ? has_pps_family() : has_clock_family())) {
        refresh_families();
        if (!(pps ? has_pps_family() : has_clock_family()))
            return RequestStatus{-ENOENT, pps ? "nanoclock-pps.ko is not loaded (no "
                                                "\"nanoclock_pps\" netlink family)"
                                              : "nanoclock.ko is not loaded (no \"nanoclock\" "
                                                "netlink family)"};
    }
    rq.msg = nlmsg_alloc();
    if (rq.msg == nullptr) return RequestStatus{-ENOMEM, "netlink: out of memory"};
    genlmsg_put(rq.msg, NL_AUTO_PORT, NL_AUTO_SEQ, pps ? pps_family_ : clock_family_, 0, flags,
                // NOLINTNEXTLINE(bugprone-branch-clone): two families, equal versions today
                command, pps ? NANOCLOCK_PPS_GENL_VERSION : NANOCLOCK_GENL_VERSION);
    return std::nullopt;
}

template <typename T>
RequestResult<T> KernelChannel::transact_one(Request& rq,
                                             std::optional<T> (*decode)(std::span<const uint8_t>,
                                                                        std::string*),
                                             const char* what) {
    RequestResult<T> out;
    bool got = false;
    std::string why;
    rq.on_reply = [&](const nlmsghdr* h) {
        if (auto v = decode(payload_of(h), &why)) {
            out.value = std::move(*v);
            got = true;
        }
    };
    out.status = transact(rq);
    if (out.status && !got)
        out.status = {-EPROTO,
                      std::string("malformed ") + what + " reply: " + (why.empty() ? "none" : why)};
    return out;
}

RequestResult<ClockState> KernelChannel::get_clock(uint32_t index) {
    Request rq;
    if (auto fail = begin(rq, Family::Clock, NANOCLOCK_CMD_GET_CLOCK, 0)) return {*fail, {}};
    nla_put_u32(rq.msg, NANOCLOCK_A_INDEX, index);
    return transact_one(rq, decode_clock, "GET_CLOCK");
}

RequestResult<std::vector<PpsSourceState>> KernelChannel::pps_sources() {
    RequestResult<std::vector<PpsSourceState>> out;
    Request rq;
    if (auto fail = begin(rq, Family::Pps, NANOCLOCK_PPS_CMD_GET_SOURCE, NLM_F_DUMP)) {
        out.status = *fail;
        return out;
    }
    uint64_t malformed = 0;
    rq.on_reply = [&](const nlmsghdr* h) {
        if (auto s = decode_pps_source(payload_of(h), nullptr))
            out.value.push_back(std::move(*s));
        else
            ++malformed;
    };
    out.status = transact(rq);
    if (out.status && malformed != 0)
        out.status = {-EPROTO, std::to_string(malformed) + " malformed GET_SOURCE replies"};
    return out;
}

RequestResult<PpsSourceState> KernelChannel::bind_pps_source(uint32_t source, int32_t clock,
                                                             bool pps_time, bool pps_freq) {
    Request rq;
    if (auto fail = begin(rq, Family::Pps, NANOCLOCK_PPS_CMD_SET_SOURCE, 0)) return {*fail, {}};
    nla_put_u32(rq.msg, NANOCLOCK_PPS_A_SOURCE, source);
    nla_put_s32(rq.msg, NANOCLOCK_PPS_A_CLOCK, clock);
    if (clock >= 0) {  // the flags are the bound clock's; an unbind has none
        nla_put_u8(rq.msg, NANOCLOCK_PPS_A_PPSTIME, pps_time ? 1 : 0);
        nla_put_u8(rq.msg, NANOCLOCK_PPS_A_PPSFREQ, pps_freq ? 1 : 0);
    }
    return transact_one(rq, decode_pps_source, "SET_SOURCE");
}

RequestStatus KernelChannel::inject(uint32_t source, const timespec& stamp) {
    Request rq;
    if (auto fail = begin(rq, Family::Pps, NANOCLOCK_PPS_CMD_INJECT, 0)) return *fail;
    nla_put_u32(rq.msg, NANOCLOCK_PPS_A_SOURCE, source);
    nla_put_s32(rq.msg, NANOCLOCK_PPS_A_INJECT_CLOCKID, CLOCK_REALTIME);
    nla_put_s64(rq.msg, NANOCLOCK_PPS_A_INJECT_SEC, static_cast<int64_t>(stamp.tv_sec));
    nla_put_u32(rq.msg, NANOCLOCK_PPS_A_INJECT_NSEC, static_cast<uint32_t>(stamp.tv_nsec));
    return transact(rq);
}

int KernelChannel::event_fd() const {
    return nl_socket_get_fd(events_);
}

void KernelChannel::drain_events(const std::function<void(const KernelEvent&)>& fn) {
    struct Ctx {
        KernelChannel* self;
        const std::function<void(const KernelEvent&)>* fn;
    } ctx{this, &fn};
    nl_cb* cb = new_callbacks();
    if (cb == nullptr) return;
    nl_cb_set(
        cb, NL_CB_VALID, NL_CB_CUSTOM,
        [](nl_msg* m, void* arg) -> int {
            auto* c = static_cast<Ctx*>(arg);
            const nlmsghdr* h = nlmsg_hdr(m);
            const auto payload = payload_of(h);
            KernelEvent ev;
            const auto cmd = genl_command(payload);
            if (h->nlmsg_type == c->self->clock_family_ && cmd == NANOCLOCK_CMD_EVENT)
                ev.clock = decode_clock(payload, nullptr);
            else if (h->nlmsg_type == c->self->pps_family_ && cmd == NANOCLOCK_PPS_CMD_EDGE)
                ev.edge = decode_pps_source(payload, nullptr);
            else
                return NL_SKIP;  // another command of ours, or a family we did not ask for
            if (!ev.clock && !ev.edge) {
                ++c->self->counters_.events_malformed;
                return NL_SKIP;
            }
            ++c->self->counters_.events;
            (*c->fn)(ev);
            return NL_OK;
        },
        &ctx);
    // Bounded: a flood cannot keep the loop here forever.
    for (int i = 0; i < 256; ++i) {
        const int r = nl_recvmsgs_report(events_, cb);
        if (r == -NLE_NOMEM) {  // ENOBUFS: the kernel dropped events for us
            ++counters_.events_lost;
            continue;
        }
        if (r <= 0) break;  // -NLE_AGAIN: drained
    }
    nl_cb_put(cb);
}

}  // namespace nanotime::kernel
