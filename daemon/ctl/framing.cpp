#include "ctl/framing.hpp"

namespace nanotime::ctl {

std::vector<uint8_t> encode_frame(std::string_view body) {
    std::vector<uint8_t> out;
    out.reserve(body.size() + 4);
    const auto n = static_cast<uint32_t>(body.size());
    out.push_back(static_cast<uint8_t>(n >> 24));
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

std::optional<std::string> FrameDecoder::next() {
    if (failed_ || buffer_.size() < 4) return std::nullopt;
    const size_t n = (size_t{buffer_[0]} << 24) | (size_t{buffer_[1]} << 16) |
                     (size_t{buffer_[2]} << 8) | size_t{buffer_[3]};
    if (n > max_frame_) {
        failed_ = true;
        buffer_.clear();
        return std::nullopt;
    }
    if (buffer_.size() < 4 + n) return std::nullopt;
    std::string body(buffer_.begin() + 4, buffer_.begin() + 4 + static_cast<std::ptrdiff_t>(n));
    buffer_.erase(buffer_.begin(), buffer_.begin() + 4 + static_cast<std::ptrdiff_t>(n));
    // An idle stream does not keep the capacity of its largest frame (the
    // broker holds one decoder per member, 10 000 of them).
    if (buffer_.empty() && buffer_.capacity() > kRetainedBytes) buffer_.shrink_to_fit();
    return body;
}

}  // namespace nanotime::ctl
