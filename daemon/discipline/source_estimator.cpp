#include "discipline/source_estimator.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nanotime::ntp {
namespace {

// How fast log(q^2) follows the normalised innovations: about 1/gain samples
// to move by a factor e when they are persistently off.
constexpr double kWanderGain = 0.05;
constexpr double kWanderSurprise = 0.2;
// How many sample noises of drift the frequency doubt may cause over one
// poll interval before the poll must wait for a better frequency.
constexpr double kFrequencyDoubtPolls = 4.0;

}  // namespace

double SourceEstimator::sample_variance(double delay) const {
    // The minimum delay is itself an estimate, above the path's true base
    // by about the typical excess over sqrt(n) (the smallest of n queueing
    // delays); while few samples are in, the whole delay is doubt (with one
    // sample the offset is anywhere within +-delay/2, RFC 5905's bound).
    const double n = static_cast<double>(std::max<size_t>(history_.size(), 1));
    const double base_doubt = std::max(min_delay_ / n, median_excess_ / std::sqrt(n));
    const double d = std::max(0.0, delay - min_delay_) + base_doubt;
    return d * d / 12.0 + kSampleErrorFloor * kSampleErrorFloor;
}

double SourceEstimator::sample_sd() const {
    if (history_.empty()) return kSampleErrorFloor;
    std::vector<double> v;
    v.reserve(history_.size());
    for (const EstimatorSample& s : history_) v.push_back(sample_variance(s.delay));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return std::sqrt(v[v.size() / 2]);
}

double SourceEstimator::balanced_interval() const {
    // Wander: q^2 dt^3 / 3 = sd^2. And while the frequency is still poorly
    // known, no longer than its doubt takes to reach the sample noise
    // (fsd * dt = sd): a poll stretched on an overconfident wander alone
    // leaves the clock drifting on a wrong frequency.
    const double sd = sample_sd();
    const double wander = std::cbrt(3.0 * sd * sd / (wander_ * wander_));
    if (!anchored_ || p11_ <= 0) return wander;
    return std::min(wander, kFrequencyDoubtPolls * sd / std::sqrt(p11_));
}

void SourceEstimator::predict(double x) {
    const double dt = x - x_;
    if (dt <= 0) return;
    const double q2 = wander_ * wander_;
    theta_ += f_ * dt;
    // P = F P F' + Q with F = [1 dt; 0 1]
    p00_ += 2 * dt * p01_ + dt * dt * p11_ + q2 * dt * dt * dt / 3;
    p01_ += dt * p11_ + q2 * dt * dt / 2;
    p11_ += q2 * dt;
    x_ = x;
}

void SourceEstimator::anchor(const EstimatorSample& s, double variance) {
    if (!anchored_) {
        f_ = initial_frequency_;
        p11_ = kInitialFrequencySd * kInitialFrequencySd;
    }
    x_ = s.x;
    theta_ = s.raw_offset;
    p00_ = variance;
    p01_ = 0;
    anchored_ = true;
    used_ = 1;
    outlier_run_ = 0;
}

void SourceEstimator::add(RawPoint at, double offset, double delay, NtpInstant local) {
    history_.push_back(EstimatorSample{at.x, offset + at.correction, delay, offset, local, false});
    if (history_.size() > kHistorySamples) history_.pop_front();
    min_delay_ = history_.front().delay;
    for (const EstimatorSample& s : history_) min_delay_ = std::min(min_delay_, s.delay);
    std::vector<double> excess;
    excess.reserve(history_.size());
    for (const EstimatorSample& s : history_) excess.push_back(s.delay - min_delay_);
    std::nth_element(excess.begin(),
                     excess.begin() + static_cast<std::ptrdiff_t>(excess.size() / 2), excess.end());
    median_excess_ = excess[excess.size() / 2];
    EstimatorSample& s = history_.back();
    const double r = sample_variance(delay);
    if (!anchored_) {
        anchor(s, r);
        return;
    }
    const double dt = s.x - x_;
    predict(s.x);
    const double innovation = s.raw_offset - theta_;
    double S = p00_ + r;
    const double nis = innovation * innovation / S;
    if (used_ >= 4 && nis > kOutlierGate * kOutlierGate) {
        s.outlier = true;
        ++outliers_;
        const int sign = innovation > 0 ? 1 : -1;
        outlier_run_ = sign == outlier_sign_ ? outlier_run_ + 1 : 1;
        outlier_sign_ = sign;
        if (outlier_run_ < kOutlierRun) return;
        // The source really moved (a temperature step, a server's clock
        // step): the same way twice in a row. Widen the doubt by what the
        // innovation says - as an offset, and as a frequency over the
        // interval - and take the sample, keeping what is known.
        p00_ += innovation * innovation;
        if (dt > 0) p11_ += (innovation / dt) * (innovation / dt);
        wander_ = std::min(wander_ * 4, kMaxWander);
        S = p00_ + r;
    }
    outlier_run_ = 0;
    const double k0 = p00_ / S, k1 = p01_ / S;
    theta_ += k0 * innovation;
    f_ += k1 * innovation;
    const double p00 = p00_, p01 = p01_;
    p00_ -= k0 * p00;
    p01_ -= k0 * p01;
    p11_ -= k1 * p01;
    ++used_;
    // Adapt the wander once the frequency is known well enough for the
    // innovations to speak about it.
    if (used_ > 4) {
        // Weighted by the wander's share of the innovation's variance: when
        // the sample noise dominates, the innovations say nothing about the
        // wander (and a slightly wrong noise model would drag it along).
        const double process = wander_ * wander_ * dt * dt * dt / 3;
        // An innovation beyond 2 sd still counts for kWanderSurprise, so
        // that a wander far above the estimate (whose share then looks
        // small) is found.
        const double share = std::max(std::min(1.0, process / S), nis > 4 ? kWanderSurprise : 0.0);
        const double step = std::clamp(kWanderGain * share * (std::min(nis, 9.0) - 1.0), -0.2, 0.2);
        wander_ = std::clamp(wander_ * std::exp(step / 2), kMinWander, kMaxWander);
    }
}

void SourceEstimator::clear() {
    history_.clear();
    anchored_ = false;
    used_ = 0;
    outlier_run_ = 0;
    min_delay_ = 0;
    median_excess_ = 0;
    wander_ = kInitialWander;
}

std::optional<SourceEstimate> SourceEstimator::estimate_at(double x) const {
    if (!anchored_) return std::nullopt;
    // The prediction of predict(), without moving the state.
    const double dt = std::max(0.0, x - x_);
    const double q2 = wander_ * wander_;
    const double p00 = p00_ + 2 * dt * p01_ + dt * dt * p11_ + q2 * dt * dt * dt / 3;
    const double p11 = p11_ + q2 * dt;
    SourceEstimate e;
    e.x = x;
    e.offset = theta_ + f_ * dt;
    e.offset_sd = std::sqrt(std::max(p00, 0.0));
    e.has_frequency = used_ >= 2;
    e.frequency = f_;
    e.frequency_sd = std::sqrt(std::max(p11, 0.0));
    e.residual_sd = sample_sd();
    e.newest_x = history_.back().x;
    e.used = used_;
    e.samples = history_.size();
    e.span = history_.back().x - history_.front().x;
    return e;
}

}  // namespace nanotime::ntp
