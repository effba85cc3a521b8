// uring_loop.cpp - the io_uring backend.
//
// The ring is created disabled and restricted to the opcodes below before
// it runs (uring_ring.hpp): SQEs never meet the seccomp filter.
// Receive: one multishot IORING_OP_RECVMSG per UDP socket, selecting buffers
// from a provided buffer ring shared by all sockets (kernel >= 6.0;
// uring_buffers.hpp: it starts with 16 buffers lent and doubles, up to
// io.receive_buffers, whenever a burst finds it empty). Each
// buffer holds io_uring_recvmsg_out, the peer address, the control messages
// (timestamps, pktinfo) and the payload; it goes back to the ring as soon as
// the callback returns. Without multishot (older kernels, or forced for
// tests) each socket has one single-shot recvmsg into its own buffer,
// re-armed on completion.
// TX timestamps: a multishot POLLERR poll per socket; on wake-up the error
// queue is drained with recvmsg(MSG_ERRQUEUE).
// Send: queued datagrams become one SQE each: IORING_OP_SEND with the
// destination address (sendto; 6.0) when there is no control message to
// pass, which spares the kernel copying and checking a msghdr and an iovec
// array per datagram, else IORING_OP_SENDMSG (a pktinfo source address, or
// a kernel that refuses the address on SEND). Under run() they leave in the
// io_uring_enter that also waits for the next event (one system call per
// wake-up); the wait does not count their completions as events.
// Ring set-up (uring_ring.cpp): where the loop runs on the thread that made
// it, SINGLE_ISSUER|DEFER_TASKRUN, so receive completions are produced in
// that wait, in one batch, instead of by task work that interrupts the loop.
// Timers: one IORING_OP_TIMEOUT (absolute, CLOCK_MONOTONIC) for the earliest
// deadline; the base class fires the due timers in order.
// Signals: a multishot poll on the signalfd.
// Streams: at most one recv, one send and (connecting) one POLLOUT poll in
// flight per connection, so SQEs in flight stay bounded by the connections.
// Watched descriptors (watch_fd): one single-shot POLLIN poll each, re-armed
// after the callback, also where multishot is available. io_uring polls are
// edge-triggered (the kernel adds EPOLLET to every IORING_OP_POLL_ADD and
// refuses IORING_POLL_ADD_LEVEL from userspace), so a multishot poll would
// not fire again for data the callback left unread. A single-shot poll checks
// the descriptor when it is armed and completes at once if it is still
// readable: re-arming after each callback is level-triggered, costs one SQE
// in the batch the loop submits anyway, and never reports a descriptor that
// was not readable when the completion was posted. Unwatching cancels the
// poll and submits at once, so that the poll takes the file the caller meant
// (before it closes the number and something else reuses it); completions for
// an unwatched id only count down its inflight.
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "io/event_loop.hpp"
#include "io/loop_objects.hpp"
#include "io/sockaddr.hpp"
#include "io/timestamps.hpp"
#include "io/uring_buffers.hpp"
#include "io/uring_ring.hpp"

namespace nanotime::io {
namespace {

enum OpKind : uint64_t {
    kUdpRecv = 1,
    kUdpPollErr,
    kUdpSend,
    kAccept,
    kConnRecv,
    kConnSend,
    kConnect,  // POLLOUT poll on a connecting stream
    kTimer,
    kSignal,
    kWatch,
    kIgnore,  // cancels, timeout removals
};

constexpr int kShift = 56;
constexpr uint64_t kIdMask = (uint64_t{1} << kShift) - 1;
// Room for a sockaddr_in6 (28 bytes), rounded up so that the control messages
// the kernel puts after the name stay aligned for cmsghdr.
constexpr size_t kNameSize = 32;
constexpr size_t kControlSize = kRxControlSize;

uint64_t tag(OpKind kind, uint64_t id) {
    return (static_cast<uint64_t>(kind) << kShift) | (id & kIdMask);
}

class UringLoop final : public EventLoop {
  public:
    explicit UringLoop(const LoopOptions& options) : EventLoop(options) {
        // Disabled until the restrictions are registered: see uring_ring.hpp.
        create_disabled_ring(ring_, options.ring_entries, options.runs_on_creating_thread);
        try {
            if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
                // IORING_OP_SEND_ZC arrived with multishot recvmsg and with
                // the destination address on IORING_OP_SEND, in 6.0.
                multishot_ = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC) != 0;
                sendto_ = multishot_;
                io_uring_free_probe(probe);
            }
            if (options.force_single_shot) multishot_ = false;
            if (multishot_ && !buffers_.setup(ring_, options.buffer_count, options.buffer_size))
                multishot_ = false;
            restrict_and_enable(ring_);
        } catch (...) {
            io_uring_queue_exit(&ring_);
            buffers_.release();
            throw;
        }
        single_buffer_size_ = options.buffer_size;
        template_.msg_namelen = kNameSize;
        template_.msg_controllen = kControlSize;
    }

    ~UringLoop() override {
        io_uring_queue_exit(&ring_);
        buffers_.release();
        for (SendOp* op : send_ops_) delete op;
    }

    Backend backend() const override { return Backend::IoUring; }
    io_uring* ring() { return &ring_; }
    std::string describe() const override {
        std::string d = multishot_ ? "io_uring (multishot recvmsg, provided buffer ring, "
                                   : "io_uring (single-shot recvmsg re-armed, ";
        d += sendto_ ? "batched send/sendmsg)" : "batched sendmsg)";
        return d;
    }

  protected:
    void udp_added(UdpSock& s) override {
        if (!multishot_) s.rx_buffer.resize(single_buffer_size_ + kNameSize + kControlSize);
        arm_udp_recv(s);
        if (s.options.any_tx_timestamps()) arm_udp_pollerr(s);
    }

    void udp_closing(UdpSock& s) override {
        cancel(tag(kUdpRecv, s.id));
        if (s.options.any_tx_timestamps()) cancel(tag(kUdpPollErr, s.id));
    }

    void listener_added(Listener& l) override { arm_accept(l); }
    void listener_closing(Listener& l) override { cancel(tag(kAccept, l.id)); }

    void conn_added(Conn& c) override { arm_conn_recv(c); }
    void conn_connecting(Conn& c) override {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_add(sqe, c.fd, POLLOUT);
        io_uring_sqe_set_data64(sqe, tag(kConnect, c.id));
        ++c.inflight;
    }
    void conn_write_ready(Conn& c) override {
        if (!c.writing && !c.connecting) arm_conn_send(c);
    }
    void conn_resumed(Conn& c) override {
        if (!c.reading) arm_conn_recv(c);
    }
    void conn_closing(Conn& c) override {
        cancel(tag(kConnRecv, c.id));
        if (c.writing) cancel(tag(kConnSend, c.id));
        if (c.connecting) cancel(tag(kConnect, c.id));
    }

    void signals_added(int fd) override {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_multishot(sqe, fd, POLLIN);
        io_uring_sqe_set_data64(sqe, tag(kSignal, 0));
    }

    void watch_added(FdWatch& w) override { arm_watch(w); }
    void watch_closing(FdWatch& w) override {
        if (w.inflight == 0) return;  // between completion and re-arm, or failed
        cancel(tag(kWatch, w.id));
        // Submit now: the poll, if still in the SQ, must reach the kernel while
        // w.fd is the caller's descriptor, and the cancel right behind it.
        io_uring_submit(&ring_);
    }

    void wait_and_dispatch(std::optional<MonoClock::time_point> deadline) override {
        if (deadline && (!armed_ || *deadline < armed_deadline_)) arm_timeout(*deadline);
        // Every send posts exactly one CQE, so waiting for one more than the
        // sends since the last drain sleeps until a real event; waiting for 1
        // would return at once for the completions of the replies just sent
        // and cost one more io_uring_enter and loop iteration per wake-up.
        // (The kernel's CQ count saturates at its size; so does wait_nr.)
        const unsigned wait_nr = std::min(sends_since_drain_ + 1, ring_.cq.ring_entries);
        int ret = io_uring_submit_and_wait(&ring_, wait_nr);
        if (ret < 0 && ret != -EINTR && ret != -ETIME) {
            throw std::system_error(-ret, std::generic_category(), "io_uring_submit_and_wait");
        }
        // Collect first, then dispatch: callbacks may submit.
        io_uring_cqe* cqe = nullptr;
        unsigned head = 0;
        unsigned count = 0;
        cqes_.clear();
        io_uring_for_each_cqe(&ring_, head, cqe) {
            cqes_.push_back(Completion{cqe->user_data, cqe->res, cqe->flags});
            ++count;
        }
        io_uring_cq_advance(&ring_, count);
        sends_since_drain_ = 0;
        for (const Completion& c : cqes_) dispatch(c);
    }

    void flush_sends() override {
        for (auto& [id, s] : udps_) {
            if (s->closing) continue;
            const int family = socket_family(s->options.bind);
            while (!s->queue.empty()) {
                PendingSend& p = s->queue.front();
                SendOp* op = alloc_send();
                op->socket = id;
                op->token = p.token;
                op->tx_stamp = p.tx_stamp;
                // Copied, not moved: the queue slot keeps its buffer for the
                // next datagram, and the op keeps its own (48 octets is a
                // cheaper copy than an allocation).
                op->data.assign(p.data.bytes());
                op->to_len = to_sockaddr(p.to, op->to, family);
                const size_t clen =
                    build_send_control(p.from, family, p.tx_stamp, op->control, sizeof op->control);
                io_uring_sqe* sqe = get_sqe();
                op->sendto = sendto_ && clen == 0;
                if (op->sendto) {
                    io_uring_prep_send(sqe, s->fd, op->data.data(), op->data.size(), 0);
                    io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&op->to),
                                                static_cast<uint16_t>(op->to_len));
                } else {
                    op->iov = iovec{op->data.data(), op->data.size()};
                    op->msg = msghdr{};
                    op->msg.msg_name = &op->to;
                    op->msg.msg_namelen = op->to_len;
                    op->msg.msg_iov = &op->iov;
                    op->msg.msg_iovlen = 1;
                    if (clen > 0) {
                        op->msg.msg_control = op->control;
                        op->msg.msg_controllen = clen;
                    }
                    io_uring_prep_sendmsg(sqe, s->fd, &op->msg, 0);
                }
                io_uring_sqe_set_data64(sqe, tag(kUdpSend, op->slot));
                ++s->inflight;
                ++sends_since_drain_;
                s->queue.pop_front();
            }
        }
        // The batch: every datagram queued this iteration, plus whatever the
        // callbacks armed (stream sends, re-armed receives), in one
        // io_uring_enter. Under run() that is the next wait's, which comes
        // at once; a bare run_once() submits now, because its callers rely
        // on their writes having reached the kernel when it returns.
        if (!running_ && io_uring_sq_ready(&ring_) > 0) io_uring_submit(&ring_);
    }

  private:
    struct Completion {
        uint64_t user_data;
        int32_t res;
        uint32_t flags;
    };
    struct SendOp {
        uint64_t slot = 0;
        uint64_t socket = 0;
        uint64_t token = 0;
        bool tx_stamp = false;  // sent with an SO_TIMESTAMPING request
        // The destination, alive until the completion: SENDMSG's msghdr and
        // SEND's address point here.
        sockaddr_storage to{};
        socklen_t to_len = 0;
        bool sendto = false;  // IORING_OP_SEND with an address, not SENDMSG
        DatagramBytes data;   // must outlive the send: the kernel may read it after submit
        iovec iov{};
        msghdr msg{};
        alignas(cmsghdr) uint8_t control[kSendControlSize];
    };

    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        while (sqe == nullptr) {  // SQ full: push what we have
            io_uring_submit(&ring_);
            sqe = io_uring_get_sqe(&ring_);
        }
        return sqe;
    }

    void cancel(uint64_t user_data) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_cancel64(sqe, user_data, 0);
        io_uring_sqe_set_data64(sqe, tag(kIgnore, 0));
    }

    void arm_timeout(MonoClock::time_point deadline) {
        if (armed_) {
            io_uring_sqe* sqe = get_sqe();
            io_uring_prep_timeout_remove(sqe, tag(kTimer, timer_gen_), 0);
            io_uring_sqe_set_data64(sqe, tag(kIgnore, 0));
        }
        ++timer_gen_;
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                .count();
        timeout_ts_.tv_sec = ns / 1'000'000'000;
        timeout_ts_.tv_nsec = ns % 1'000'000'000;
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_timeout(sqe, &timeout_ts_, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, tag(kTimer, timer_gen_));
        armed_ = true;
        armed_deadline_ = deadline;
    }

    void arm_udp_recv(UdpSock& s) {
        io_uring_sqe* sqe = get_sqe();
        if (multishot_) {
            io_uring_prep_recvmsg_multishot(sqe, s.fd, &template_, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = ProvidedBuffers::kGroup;
        } else {
            auto& st = single_[s.id];
            st.iov = iovec{s.rx_buffer.data(), single_buffer_size_};
            st.msg = msghdr{};
            st.msg.msg_name = s.rx_buffer.data() + single_buffer_size_;
            st.msg.msg_namelen = kNameSize;
            st.msg.msg_iov = &st.iov;
            st.msg.msg_iovlen = 1;
            st.msg.msg_control = s.rx_buffer.data() + single_buffer_size_ + kNameSize;
            st.msg.msg_controllen = kControlSize;
            io_uring_prep_recvmsg(sqe, s.fd, &st.msg, 0);
        }
        io_uring_sqe_set_data64(sqe, tag(kUdpRecv, s.id));
        ++s.inflight;
    }

    void arm_udp_pollerr(UdpSock& s) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_multishot(sqe, s.fd, POLLERR);
        io_uring_sqe_set_data64(sqe, tag(kUdpPollErr, s.id));
        ++s.inflight;
    }

    void arm_watch(FdWatch& w) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_add(sqe, w.fd, POLLIN);
        io_uring_sqe_set_data64(sqe, tag(kWatch, w.id));
        ++w.inflight;
    }

    void arm_accept(Listener& l) {
        io_uring_sqe* sqe = get_sqe();
        if (multishot_) {
            io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
        } else {
            io_uring_prep_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
        }
        io_uring_sqe_set_data64(sqe, tag(kAccept, l.id));
        ++l.inflight;
    }

    void arm_conn_recv(Conn& c) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_recv(sqe, c.fd, c.in_buffer.data(), c.in_buffer.size(), 0);
        io_uring_sqe_set_data64(sqe, tag(kConnRecv, c.id));
        c.reading = true;
        ++c.inflight;
    }

    void arm_conn_send(Conn& c) {
        if (c.out.empty()) return;
        const std::vector<uint8_t>& front = c.out.front();
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_send(sqe, c.fd, front.data() + c.out_offset, front.size() - c.out_offset,
                           MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, tag(kConnSend, c.id));
        c.writing = true;
        ++c.inflight;
    }

    SendOp* alloc_send() {
        if (free_sends_.empty()) {
            auto* op = new SendOp;
            op->slot = send_ops_.size();
            send_ops_.push_back(op);
            return op;
        }
        SendOp* op = send_ops_[free_sends_.back()];
        free_sends_.pop_back();
        return op;
    }

    void dispatch(const Completion& c) {
        const auto kind = static_cast<OpKind>(c.user_data >> kShift);
        const uint64_t id = c.user_data & kIdMask;
        const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
        switch (kind) {
            case kUdpRecv:
                on_udp_recv(id, c, more);
                break;
            case kUdpPollErr:
                if (UdpSock* s = udp(id)) {
                    if (c.res > 0 && !s->closing) drain_error_queue(*s);
                    if (UdpSock* live = udp(id); live != nullptr && !more) {
                        --live->inflight;
                        if (!live->closing) arm_udp_pollerr(*live);
                    }
                }
                break;
            case kUdpSend: {
                SendOp* op = send_ops_[id];
                if (UdpSock* s = udp(op->socket)) {
                    --s->inflight;
                    if (c.res >= 0) {
                        note_sent(*s, op->token, op->tx_stamp);
                    } else {
                        ++stats_.send_errors;
                        // A kernel without the address on IORING_OP_SEND
                        // refuses the SQE: this datagram is lost, the next
                        // ones go as SENDMSG.
                        if (op->sendto && c.res == -EINVAL && sendto_) {
                            sendto_ = false;
                            note_fallback(
                                "io_uring SEND with an address refused (EINVAL): sendmsg");
                        }
                    }
                }
                free_sends_.push_back(op->slot);  // the op and its buffer are reused
                break;
            }
            case kAccept:
                if (Listener* l = listener(id)) {
                    if (!more) --l->inflight;
                    if (c.res >= 0) {
                        if (l->closing) {
                            close(c.res);
                        } else {
                            accepted(*l, c.res);
                        }
                    }
                    if (Listener* live = listener(id); live != nullptr && !more && !live->closing) {
                        arm_accept(*live);
                    }
                } else if (c.res >= 0) {
                    close(c.res);
                }
                break;
            case kConnRecv:
                if (Conn* cn = conn(id)) {
                    --cn->inflight;
                    cn->reading = false;
                    if (c.res > 0) {
                        deliver_stream_data(*cn,
                                            std::span<const uint8_t>(cn->in_buffer.data(),
                                                                     static_cast<size_t>(c.res)));
                        // Paused (by the callback, say): resume_stream() re-arms.
                        if (Conn* live = conn(id); live != nullptr && !live->closing &&
                                                   live->wants_read() && !live->reading)
                            arm_conn_recv(*live);
                    } else if (!cn->closing) {
                        mark_closing(*cn);  // EOF, reset, or cancelled
                        conn_closing(*cn);
                    }
                }
                break;
            case kConnSend:
                if (Conn* cn = conn(id)) {
                    --cn->inflight;
                    cn->writing = false;
                    if (c.res < 0) {
                        cn->drop_output();
                        if (!cn->closing) {
                            mark_closing(*cn);
                            conn_closing(*cn);
                        }
                        break;
                    }
                    if (cn->closing) break;
                    cn->consumed(static_cast<size_t>(c.res));
                    output_progress(*cn);
                    if (cn->closing) break;
                    if (!cn->out.empty()) {
                        arm_conn_send(*cn);
                    } else if (cn->close_when_flushed) {
                        mark_closing(*cn);
                        conn_closing(*cn);
                    } else {
                        deliver_stream_drained(*cn);
                    }
                }
                break;
            case kConnect:
                if (Conn* cn = conn(id)) {
                    --cn->inflight;
                    if (!cn->closing && cn->connecting) complete_connect(*cn);
                }
                break;
            case kTimer:
                if (id == timer_gen_) armed_ = false;  // fired (-ETIME) or removed
                break;
            case kSignal:
                if (c.res > 0) signal_ready();
                if (!more && signal_fd_ >= 0) signals_added(signal_fd_);
                break;
            case kWatch:
                on_watch(id, c);
                break;
            case kIgnore:
                break;
        }
    }

    void on_watch(uint64_t id, const Completion& c) {
        FdWatch* w = fd_watch(id);
        if (w == nullptr) return;  // long gone (cannot happen while inflight counts)
        --w->inflight;             // single-shot: every completion ends the poll
        if (w->closing) return;    // unwatched: cancelled, or completed before the cancel
        if (c.res < 0) {
            // -EBADF: closed before the poll reached the kernel; anything
            // else (-ECANCELED by the kernel, say) means the same to us.
            w->failed = true;
            return;
        }
        if (c.res > 0) deliver_readable(*w);  // the callback may unwatch
        if (FdWatch* live = fd_watch(id); live != nullptr && !live->closing && !live->failed)
            arm_watch(*live);
    }

    void on_udp_recv(uint64_t id, const Completion& c, bool more) {
        UdpSock* s = udp(id);
        const bool has_buffer = (c.flags & IORING_CQE_F_BUFFER) != 0;
        const unsigned bid = c.flags >> IORING_CQE_BUFFER_SHIFT;
        if (s == nullptr) {
            if (has_buffer) buffers_.recycle(bid);
            return;
        }
        if (c.res >= 0 && !s->closing) {
            ReceivedDatagram d;
            if (multishot_ && has_buffer) {
                uint8_t* buf = buffers_.buffer(bid);
                io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, c.res, &template_);
                if (out != nullptr) {
                    d.peer = from_sockaddr(static_cast<const sockaddr*>(io_uring_recvmsg_name(out)),
                                           out->namelen)
                                 .value_or(ntp::SocketAddress::v6_any(0));
                    msghdr h{};
                    h.msg_control = static_cast<uint8_t*>(io_uring_recvmsg_name(out)) + kNameSize;
                    h.msg_controllen = out->controllen;
                    parse_rx_control(h, d);
                    d.payload = std::span<const uint8_t>(
                        static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &template_)),
                        io_uring_recvmsg_payload_length(out, c.res, &template_));
                    if ((out->flags & MSG_CTRUNC) != 0) ++stats_.rx_control_truncated;
                    deliver(*s, d, (out->flags & MSG_TRUNC) != 0);
                }
            } else if (!multishot_) {
                auto& st = single_[id];
                d.peer =
                    from_sockaddr(static_cast<const sockaddr*>(st.msg.msg_name), st.msg.msg_namelen)
                        .value_or(ntp::SocketAddress::v6_any(0));
                parse_rx_control(st.msg, d);
                d.payload = std::span<const uint8_t>(
                    s->rx_buffer.data(),
                    std::min<size_t>(static_cast<size_t>(c.res), single_buffer_size_));
                if ((st.msg.msg_flags & MSG_CTRUNC) != 0) ++stats_.rx_control_truncated;
                deliver(*s, d, (st.msg.msg_flags & MSG_TRUNC) != 0);
            }
        }
        if (has_buffer) buffers_.recycle(bid);
        if (more) return;
        // The operation ended (single-shot, ENOBUFS, an error, a cancel).
        if (c.res == -ENOBUFS && multishot_) buffers_.grow();
        UdpSock* live = udp(id);
        if (live == nullptr) return;
        --live->inflight;
        if (live->closing) {
            single_.erase(id);
        } else {
            arm_udp_recv(*live);
        }
    }

    struct SingleShot {
        msghdr msg{};
        iovec iov{};
    };

    io_uring ring_{};
    bool multishot_ = false;
    bool sendto_ = false;      // IORING_OP_SEND takes a destination address (6.0)
    ProvidedBuffers buffers_;  // multishot receive buffers
    msghdr template_{};        // multishot recvmsg: name and control sizes only
    size_t single_buffer_size_ = 2048;
    std::map<uint64_t, SingleShot> single_;
    std::vector<SendOp*> send_ops_;
    std::vector<uint64_t> free_sends_;
    std::vector<Completion> cqes_;
    __kernel_timespec timeout_ts_{};
    uint64_t timer_gen_ = 0;
    unsigned sends_since_drain_ = 0;  // send SQEs whose CQEs are not yet collected
    bool armed_ = false;
    MonoClock::time_point armed_deadline_{};
};

}  // namespace

std::unique_ptr<EventLoop> make_uring_loop(const LoopOptions& options) {
    return std::make_unique<UringLoop>(options);
}

io_uring* ring_of(EventLoop& loop) {
    auto* uring = dynamic_cast<UringLoop*>(&loop);
    return uring != nullptr ? uring->ring() : nullptr;
}

}  // namespace nanotime::io
