// framing.hpp - the control protocol's framing: a 4-byte big-endian length,
// then that many bytes of UTF-8 JSON. One request frame gets one response
// frame. Frames above kMaxFrame are a protocol error and end the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nanotime::ctl {

inline constexpr size_t kMaxRequestFrame = size_t{64} * 1024;
inline constexpr size_t kMaxResponseFrame = size_t{16} * 1024 * 1024;

std::vector<uint8_t> encode_frame(std::string_view body);

// Accumulates stream bytes and cuts them into frames.
class FrameDecoder {
  public:
    explicit FrameDecoder(size_t max_frame) : max_frame_(max_frame) {}

    void feed(std::span<const uint8_t> data) {
        buffer_.insert(buffer_.end(), data.begin(), data.end());
    }
    // The next complete frame's body, if one is buffered.
    std::optional<std::string> next();
    // A frame announced a length above the limit; the stream is unusable.
    bool failed() const { return failed_; }
    size_t buffered() const { return buffer_.size(); }
    // Heap bytes the decoder holds (its buffer's capacity): what an idle
    // stream costs. Emptied by a frame, a buffer above kRetainedBytes is freed.
    size_t held_bytes() const { return buffer_.capacity(); }
    static constexpr size_t kRetainedBytes = 4096;

  private:
    size_t max_frame_;
    std::vector<uint8_t> buffer_;
    bool failed_ = false;
};

}  // namespace nanotime::ctl
