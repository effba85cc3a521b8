// poll_controller.hpp - the poll exponent between minpoll and maxpoll.
//
// The poll follows the interval the source's estimator finds balanced (the
// wander over one interval equals the noise of one sample; see
// discipline/source_estimator.hpp): each sample adds kScoreGain times the
// distance in log2 steps (at most 1) to a score, and at +-1 the exponent
// moves one step, so a single noisy estimate does not move the poll. An
// outlier shortens the poll one step at once.
// The RFC 5905 A.5.5.6 jiggle counter (on_sample) remains for callers that
// only have a clock filter. Kiss-o'-death RATE raises a floor that the poll
// never goes below again; an unreachable source backs off.
#pragma once

#include <algorithm>
#include <cmath>
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
    int8_t configured_minpoll() const { return minpoll_; }
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

    // A new sample reached the source's estimator, which would like an
    // update interval of @balanced (s); @outlier: the sample was far off
    // the prediction, so the interval is too long to follow the source.
    void on_estimate(double balanced, bool outlier) {
        const double wanted =
            outlier ? static_cast<double>(poll_) - 1.0 : std::log2(std::max(balanced, 1.0));
        score_ += std::clamp((wanted - static_cast<double>(poll_)) * kScoreGain, -1.0, 1.0);
        if (score_ >= 1.0) {
            score_ = 0.0;
            poll_ = std::min<int8_t>(static_cast<int8_t>(poll_ + 1), maxpoll_);
        } else if (score_ <= -1.0) {
            score_ = 0.0;
            poll_ = std::max<int8_t>(static_cast<int8_t>(poll_ - 1), floor_);
        }
    }

    // Back to minpoll (the estimates were restarted).
    void reset() {
        poll_ = floor_;
        jiggle_ = 0;
        score_ = 0.0;
    }

    // Kiss-o'-death RATE: poll no faster than max(poll + 1, @server_poll).
    void on_rate_kiss(int8_t server_poll) {
        const int8_t wanted = std::max<int8_t>(static_cast<int8_t>(poll_ + 1), server_poll);
        floor_ = std::clamp<int8_t>(wanted, floor_, maxpoll_);
        poll_ = std::max(poll_, floor_);
        jiggle_ = 0;
    }

    // nanotimectl minpoll/maxpoll: new limits (log2 s), kMinPoll <= @minpoll
    // <= @maxpoll <= kMaxPoll (the caller checks). A floor a RATE kiss raised
    // above the old minpoll stays, within the new limits; the poll moves
    // into them.
    void set_limits(int8_t minpoll, int8_t maxpoll) {
        const bool raised = floor_ > minpoll_;
        minpoll_ = minpoll;
        maxpoll_ = maxpoll;
        floor_ = raised ? std::clamp(floor_, minpoll_, maxpoll_) : minpoll_;
        poll_ = std::clamp(poll_, floor_, maxpoll_);
        jiggle_ = 0;
        score_ = 0.0;
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
    static constexpr double kScoreGain = 0.25;
    double score_ = 0.0;  // see on_estimate
};

}  // namespace nanotime::ntp
