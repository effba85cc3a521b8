// poll_controller.hpp - the poll exponent between minpoll and maxpoll.
//
// RFC 5905 A.5.5.6 adapts the poll interval with a "jiggle" counter: a sample
// whose offset change is within PGATE jitters adds the poll exponent, others
// subtract twice it; crossing +-LIMIT moves the exponent one step up or
// down. Here the rule runs per source on the filter output (the system-wide
// discipline lives in the kernel). Kiss-o'-death RATE raises a floor that
// the poll never goes below again; an unreachable source backs off.
#pragma once

#include <algorithm>
#include <cstdint>

#include "algorithm/constants.hpp"

namespace nanotime::ntp {

class PollController {
  public:
    PollController(int8_t minpoll, int8_t maxpoll)
        : minpoll_(std::clamp<int8_t>(minpoll, kMinPoll, kMaxPoll)),
          maxpoll_(std::clamp<int8_t>(maxpoll, minpoll_, kMaxPoll)),
          poll_(minpoll_),
          floor_(minpoll_) {}

    int8_t poll() const { return poll_; }
    int8_t minpoll() const { return floor_; }
    int8_t maxpoll() const { return maxpoll_; }
    double interval_seconds() const { return log2_to_seconds(poll_); }

    // A new filter output: @offset_change (s) against the previous output,
    // @jitter (s) of the source.
    void on_sample(double offset_change, double jitter) {
        if (offset_change < kPollGate * jitter) {
            jiggle_ += poll_;
            if (jiggle_ > kPollLimit) {
                jiggle_ = 0;
                poll_ = std::min<int8_t>(static_cast<int8_t>(poll_ + 1), maxpoll_);
            }
        } else {
            jiggle_ -= 2 * poll_;
            if (jiggle_ < -kPollLimit) {
                jiggle_ = 0;
                poll_ = std::max<int8_t>(static_cast<int8_t>(poll_ - 1), floor_);
            }
        }
    }

    // Kiss-o'-death RATE: poll no faster than max(poll + 1, @server_poll).
    void on_rate_kiss(int8_t server_poll) {
        const int8_t wanted = std::max<int8_t>(static_cast<int8_t>(poll_ + 1), server_poll);
        floor_ = std::clamp<int8_t>(wanted, floor_, maxpoll_);
        poll_ = std::max(poll_, floor_);
        jiggle_ = 0;
    }

    // No reply for a while: back off one step toward maxpoll.
    void on_unreachable() {
        poll_ = std::min<int8_t>(static_cast<int8_t>(poll_ + 1), maxpoll_);
        jiggle_ = 0;
    }

  private:
    int8_t minpoll_;
    int8_t maxpoll_;
    int8_t poll_;   // log2 s, current
    int8_t floor_;  // log2 s, minpoll raised by RATE kisses
    int jiggle_ = 0;
};

}  // namespace nanotime::ntp
