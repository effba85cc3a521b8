// reachability.hpp - the 8-bit reachability register (RFC 5905 §13).
//
// Shifted left at every poll; bit 0 is set when a valid reply arrives, so
// the register shows which of the last 8 polls were answered.
#pragma once

#include <cstdint>

namespace nanotime::ntp {

class Reachability {
  public:
    // A poll is being sent: age the history by one poll.
    void on_poll() {
        register_ = static_cast<uint8_t>(register_ << 1);
        if (!answered_) ++unanswered_;
        answered_ = false;
    }
    // A valid reply to the current poll arrived.
    void on_reply() {
        register_ |= 1;
        answered_ = true;
        unanswered_ = 0;
    }
    void clear() {
        register_ = 0;
        unanswered_ = 0;
        answered_ = true;
    }

    uint8_t value() const { return register_; }
    bool reachable() const { return register_ != 0; }
    // Consecutive polls that got no reply.
    unsigned unanswered() const { return unanswered_; }

  private:
    uint8_t register_ = 0;
    unsigned unanswered_ = 0;
    bool answered_ = true;  // no poll outstanding before the first one
};

}  // namespace nanotime::ntp
