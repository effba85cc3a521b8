// streams.cpp - the event loop's stream side, shared by both backends:
// listeners, accepted and added connections, their write queues, pausing
// and closing. The backends move the bytes (uring_loop.cpp, poll_loop.cpp).
#include <fcntl.h>
#include <unistd.h>

#include "io/event_loop.hpp"
#include "io/loop_objects.hpp"

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
    l->closing = true;
    listener_closing(*l);
}

void EventLoop::accepted(Listener& l, int fd) {
    if (l.on_accept) {
        l.on_accept(fd);
    } else {
        close(fd);
    }
}

uint64_t EventLoop::add_stream(int fd, StreamDataFn on_data, StreamCloseFn on_close,
                               StreamDrainedFn on_drained) {
    set_nonblocking(fd);
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->fd = fd;
    c->on_data = std::move(on_data);
    c->on_close = std::move(on_close);
    c->on_drained = std::move(on_drained);
    c->in_buffer.resize(4096);
    Conn& ref = *c;
    conns_.emplace(c->id, std::move(c));
    conn_added(ref);
    return ref.id;
}

void EventLoop::write_stream(uint64_t id, std::span<const uint8_t> data) {
    Conn* c = conn(id);
    if (c == nullptr || c->closing || c->close_when_flushed || data.empty()) return;
    c->out.emplace_back(data.begin(), data.end());
    conn_write_ready(*c);
}

size_t EventLoop::stream_queued_bytes(uint64_t id) const {
    auto it = conns_.find(id);
    if (it == conns_.end()) return 0;
    const Conn& c = *it->second;
    size_t total = 0;
    for (const std::vector<uint8_t>& chunk : c.out) total += chunk.size();
    return total - c.out_offset;
}

void EventLoop::pause_stream(uint64_t id) {
    if (Conn* c = conn(id)) c->paused = true;
}

void EventLoop::resume_stream(uint64_t id) {
    Conn* c = conn(id);
    if (c == nullptr || !c->paused) return;
    c->paused = false;
    if (!c->closing) conn_resumed(*c);
}

void EventLoop::close_stream(uint64_t id, bool flush) {
    Conn* c = conn(id);
    if (c == nullptr || c->closing) return;
    if (flush && !c->out.empty()) {
        c->close_when_flushed = true;
        return;
    }
    c->closing = true;
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

Listener* EventLoop::listener(uint64_t id) {
    auto it = listeners_.find(id);
    return it == listeners_.end() ? nullptr : it->second.get();
}

Conn* EventLoop::conn(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
}

}  // namespace nanotime::io
