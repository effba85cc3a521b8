// streams.cpp - the event loop's stream side, shared by both backends:
// listeners, accepted, added and outbound (connect) connections, their
// write queues and output caps, pausing and closing. The backends move the
// bytes (uring_loop.cpp, poll_loop.cpp).
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "io/event_loop.hpp"
#include "io/loop_objects.hpp"
#include "io/sockaddr.hpp"

namespace nanotime::io {

uint64_t EventLoop::listen_stream(int fd, AcceptFn on_accept) {
    set_nonblocking(fd);
    auto l = std::make_unique<Listener>();
    l->id = next_id_++;
    l->fd = fd;
    l->on_accept = std::move(on_accept);
    Listener& ref = *l;
    listeners_.emplace(l->id, std::move(l));
    listener_added(ref);
    return ref.id;
}

void EventLoop::close_listener(uint64_t id) {
    Listener* l = listener(id);
    if (l == nullptr || l->closing) return;
    mark_closing(*l);
    listener_closing(*l);
}

void EventLoop::accepted(Listener& l, int fd) {
    if (l.on_accept) {
        l.on_accept(fd);
    } else {
        close(fd);
    }
}

Conn& EventLoop::new_conn(int fd, StreamDataFn on_data, StreamCloseFn on_close,
                          StreamDrainedFn on_drained) {
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->on_data = std::move(on_data);
    c->on_close = std::move(on_close);
    c->on_drained = std::move(on_drained);
    c->in_buffer.resize(4096);
    Conn& ref = *c;
    conns_.emplace(c->id, std::move(c));
    return ref;
}

uint64_t EventLoop::add_stream(int fd, StreamDataFn on_data, StreamCloseFn on_close,
                               StreamDrainedFn on_drained) {
    set_nonblocking(fd);
    Conn& ref = new_conn(fd, std::move(on_data), std::move(on_close), std::move(on_drained));
    conn_added(ref);
    return ref.id;
}

uint64_t EventLoop::connect_stream(const ntp::SocketAddress& to, ConnectFn on_connected,
                                   StreamDataFn on_data, StreamCloseFn on_close,
                                   StreamDrainedFn on_drained) {
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(to, ss);
    const int fd = open_socket(*sys_, ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket (stream)");
    Conn& ref = new_conn(fd, std::move(on_data), std::move(on_close), std::move(on_drained));
    ref.on_connected = std::move(on_connected);
    ref.connecting = true;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0 || errno == EINPROGRESS) {
        conn_connecting(ref);  // completion (or failure) shows as POLLOUT
    } else {
        // Refused at once (ENETUNREACH, say): reported from the loop, like
        // any other outcome, never from inside this call.
        const uint64_t id = ref.id;
        const int error = errno;
        add_timer_after(MonoClock::duration::zero(), [this, id, error] {
            if (Conn* live = conn(id); live != nullptr && live->connecting)
                finish_connect(*live, error);
        });
    }
    return ref.id;
}

void EventLoop::complete_connect(Conn& c) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    finish_connect(c, error);
}

void EventLoop::finish_connect(Conn& c, int error) {
    const uint64_t id = c.id;
    c.connecting = false;
    if (c.on_connected && !c.closing) c.on_connected(id, error);
    Conn* live = conn(id);
    if (live == nullptr || live->closing) return;
    if (error != 0) {
        live->drop_output();
        mark_closing(*live);
        conn_closing(*live);
        return;
    }
    conn_added(*live);
    if (!live->out.empty()) conn_write_ready(*live);
}

void EventLoop::write_stream(uint64_t id, std::span<const uint8_t> data) {
    Conn* c = conn(id);
    if (c == nullptr || c->closing || c->close_when_flushed || data.empty()) return;
    c->queue_output(data);
    if (c->output_cap != 0 && c->queued() > c->output_cap) c->over_cap = true;
    if (!c->connecting) conn_write_ready(*c);
}

size_t EventLoop::stream_queued_bytes(uint64_t id) const {
    auto it = conns_.find(id);
    return it == conns_.end() ? 0 : it->second->queued();
}

void EventLoop::set_stream_output_cap(uint64_t id, size_t bytes) {
    Conn* c = conn(id);
    if (c == nullptr) return;
    c->output_cap = bytes;
    c->over_cap = bytes != 0 && c->queued() > bytes;
    output_progress(*c);
}

bool EventLoop::stream_over_cap(uint64_t id) const {
    auto it = conns_.find(id);
    return it != conns_.end() && it->second->over_cap;
}

void EventLoop::output_progress(Conn& c) {
    if (!c.over_cap || c.queued() > c.output_cap / 2) return;
    c.over_cap = false;
    if (!c.closing && c.wants_read()) conn_resumed(c);
}

void EventLoop::pause_stream(uint64_t id) {
    if (Conn* c = conn(id)) c->paused = true;
}

void EventLoop::resume_stream(uint64_t id) {
    Conn* c = conn(id);
    if (c == nullptr || !c->paused) return;
    c->paused = false;
    if (!c->closing && c->wants_read()) conn_resumed(*c);
}

void EventLoop::close_stream(uint64_t id, bool flush) {
    Conn* c = conn(id);
    if (c == nullptr || c->closing) return;
    if (flush && !c->out.empty()) {
        c->close_when_flushed = true;
        return;
    }
    mark_closing(*c);
    conn_closing(*c);
}

void EventLoop::deliver_stream_data(Conn& c, std::span<const uint8_t> data) {
    if (c.on_data && !c.closing) c.on_data(c.id, data);
}

void EventLoop::deliver_stream_drained(Conn& c) {
    if (c.on_drained && !c.closing) c.on_drained(c.id);
}

void EventLoop::finish_listener_close(uint64_t id) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    close(it->second->fd);
    listeners_.erase(it);
}

void EventLoop::finish_conn_close(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    std::unique_ptr<Conn> c = std::move(it->second);
    conns_.erase(it);
    close(c->fd);
    if (c->on_close) c->on_close(id);
}

int open_tcp_listener(const ntp::SocketAddress& bind, int backlog) {
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(bind, ss);
    const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket (TCP listener)");
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || listen(fd, backlog) != 0) {
        const int error = errno;
        close(fd);
        throw std::system_error(error, std::generic_category(), "bind/listen " + bind.to_string());
    }
    return fd;
}

Listener* EventLoop::listener(uint64_t id) {
    auto it = listeners_.find(id);
    return it == listeners_.end() ? nullptr : it->second.get();
}

Conn* EventLoop::conn(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
}

}  // namespace nanotime::io
