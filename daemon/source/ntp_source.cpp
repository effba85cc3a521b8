#include "source/ntp_source.hpp"

#include <cmath>

#include "algorithm/on_wire.hpp"
#include "nts/nts_server.hpp"
#include "packet/codec.hpp"
#include "packet/reference_id.hpp"

namespace nanotime::ntp {
namespace {

// Ephemeral ports for the per-request source port.
constexpr uint16_t kFirstEphemeralPort = 1024;

}  // namespace

NtpSource::NtpSource(SourceId id, SourceConfig config, const CorrectionLedger* ledger)
    : id_(id),
      config_(config),
      address_reference_id_(reference_id_for_address(config.address.ip)),
      poll_(config.minpoll, config.maxpoll),
      filter_(config.local_precision),
      ledger_(ledger != nullptr ? ledger : &own_ledger_),
      estimator_(ledger_->frequency()),
      burst_remaining_(config.iburst ? kBurstRequests : 0) {}

Nanoseconds NtpSource::next_interval(RandomSource& random) const {
    if (in_burst()) return kBurstSpacing;
    // Up to 1/16 of the interval of random extra delay, so that sources
    // started together do not stay in lock step.
    const double interval = poll_.interval_seconds();
    return from_seconds(interval + interval / 16 * random.unit());
}

SourceActions NtpSource::start(RandomSource& random) {
    // First poll within a second: quick start without a thundering herd.
    return {SetTimer{Nanoseconds(static_cast<int64_t>(random.uniform(kNanosPerSecond)))}};
}

bool NtpSource::needs_key_exchange(SourceActions& actions) {
    if (!uses_nts()) return false;
    // Unanswered polls may mean the server lost the keys our cookies were
    // sealed with, or that NTP moved elsewhere: ask NTS-KE again.
    const bool stale = nts_ && reach_.unanswered() > 0 && reach_.unanswered() % kNtsRekeyPolls == 0;
    if (nts_ && !nts_->needs_key_exchange() && !stale) return false;
    if (!ke_pending_) {
        ke_pending_ = true;
        ++counters_.key_exchanges;
        actions.push_back(KeyExchange{});
    }
    // With keys still in hand (stale), keep polling with them meanwhile.
    return !nts_ || nts_->needs_key_exchange();
}

bool NtpSource::protect(std::span<const uint8_t, kHeaderLength> header,
                        std::vector<uint8_t>& packet) {
    packet.resize(nts::kMaxNtsPacket);
    auto length = nts_->build_request(header, packet);
    if (!length) return false;
    packet.resize(*length);
    return true;
}

SourceActions NtpSource::set_nts(nts::NtsClient client, SocketAddress ntp_server) {
    nts_.emplace(std::move(client));
    ke_pending_ = false;
    config_.address = ntp_server;
    address_reference_id_ = reference_id_for_address(ntp_server.ip);
    outstanding_.reset();  // a request under the old keys cannot be checked now
    return {SetTimer{Nanoseconds(0)}};
}

SourceActions NtpSource::start_burst(unsigned requests) {
    if (demobilized_ || requests == 0) return {};
    manual_burst_remaining_ = requests;
    return {SetTimer{Nanoseconds(0)}};
}

SourceActions NtpSource::set_online(bool online, RandomSource& random) {
    if (demobilized_ || online == online_) return {};
    online_ = online;
    // Offline: the armed poll finds the source offline and arms no other.
    if (!online_) return {};
    return start(random);
}

bool NtpSource::set_poll_limits(int8_t minpoll, int8_t maxpoll) {
    if (minpoll < kMinPoll || maxpoll > kMaxPoll || minpoll > maxpoll) return false;
    poll_.set_limits(minpoll, maxpoll);
    config_.minpoll = minpoll;
    config_.maxpoll = maxpoll;
    return true;
}

SourceActions NtpSource::handle_timer(NtpInstant now, RandomSource& random) {
    SourceActions actions;
    if (demobilized_) return actions;
    // Offline and no burst asked for: no poll, and no timer until online.
    if (!online_ && manual_burst_remaining_ == 0) return actions;

    if (outstanding_) ++counters_.timeouts;
    outstanding_.reset();  // a reply to an older request is now bogus
    reach_.on_poll();

    if (reach_.unanswered() >= kUnreachablePolls) {
        if (!unreachable_reported_) {
            unreachable_reported_ = true;
            burst_remaining_ = 0;
            filter_.reset();
            actions.push_back(Reset{ResetReason::Unreachable});
        }
        poll_.on_unreachable();
    } else if (reach_.reachable() && (reach_.value() & 0x07) == 0) {
        // Reachable, but the last three polls failed: age the filter with an
        // empty stage so the source's distance grows (RFC 5905 A.5.7).
        filter_.add_timeout(now);
        if (filter_.has_statistics()) actions.push_back(UpdateSystem{snapshot()});
    }

    // The burst ends once the startup quorum has its samples and the
    // frequency is known well enough that the clock will not drift off
    // before the first regular poll.
    if (burst_remaining_ > 0 && filter_.valid_stages() >= kBurstEnoughSamples) {
        const auto e = estimator_.estimate_at(ledger_->at(now).x);
        if (e && e->has_frequency && e->frequency_sd < kBurstFrequencySd) burst_remaining_ = 0;
    }

    NtpHeader request;
    request.leap = LeapIndicator::NoWarning;
    request.version = 4;
    request.mode = Mode::Client;
    request.poll = poll_.poll();
    NtpTimestamp cookie{random.next_u64()};
    if (cookie.is_zero()) cookie.raw = 1;  // zero would mean "no timestamp"
    request.transmit_time = cookie;
    std::optional<NtpTimestamp> interleaved_origin;
    if (config_.xleave && previous_) {
        // RFC 9769 3.: origin = the server's receive timestamp of our last
        // answered request (how the server finds that exchange), receive =
        // when its reply reached us (echoed back as the reply's origin).
        request.origin_time = previous_->server_receive;
        request.receive_time = previous_->received_wire;
        interleaved_origin = previous_->received_wire;
    }
    const auto bytes = serialize_header(request);

    SendRequest send;
    if (needs_key_exchange(actions)) {
        actions.push_back(SetTimer{next_interval(random)});
        return actions;
    }
    if (uses_nts()) {
        if (!protect(bytes, send.packet)) {
            // The jar ran dry (needs_key_exchange() saw cookies): NTS-KE next poll.
            actions.push_back(SetTimer{next_interval(random)});
            return actions;
        }
    } else {
        send.packet.assign(bytes.begin(), bytes.end());
    }
    Outstanding out{random.next_u64(), cookie, now, now, interleaved_origin};
    outstanding_ = out;
    send.destination = config_.address;
    send.request_id = out.request_id;
    send.source_port =
        static_cast<uint16_t>(kFirstEphemeralPort + random.uniform(65536 - kFirstEphemeralPort));
    actions.push_back(std::move(send));
    ++counters_.requests_sent;
    if (!startup_complete_ && counters_.requests_sent >= kStartupRequests) {
        startup_complete_ = true;
        actions.push_back(UpdateSystem{snapshot()});  // the startup quorum changed
    }

    // A manual burst counts this request first, so that its last request is
    // followed by the regular poll.
    const bool manual = manual_burst_remaining_ > 0;
    if (manual) --manual_burst_remaining_;
    const Nanoseconds after = next_interval(random);
    if (!manual && burst_remaining_ > 0) --burst_remaining_;
    // The last request of a burst on an offline source: its reply is
    // still taken, but nothing more is sent until online.
    if (online_ || manual_burst_remaining_ > 0) actions.push_back(SetTimer{after});
    return actions;
}

SourceActions NtpSource::handle_packet(std::span<const uint8_t> bytes, uint64_t request_id,
                                       NtpInstant receive_time, StampSource receive_source) {
    SourceActions actions;
    if (demobilized_) return actions;
    if (uses_nts()) {
        // Only a reply to our outstanding request, authenticated with its
        // keys, may go further; anything else leaves the request waiting.
        if (!nts_ || !outstanding_ || outstanding_->request_id != request_id) {
            ++counters_.nts_rejected;
            return actions;
        }
        auto verdict = nts_->check_response(bytes);
        if (!verdict) {
            ++counters_.nts_rejected;
            return actions;
        }
        if (*verdict == nts::ResponseVerdict::Nak) {
            ++counters_.nts_naks;
            outstanding_.reset();
            reach_.on_reply();  // the server answered: it just does not know our cookie
            needs_key_exchange(actions);
            return actions;
        }
    }
    auto parsed = parse_packet(bytes);
    if (!parsed) {
        ++counters_.malformed;
        return actions;
    }
    const NtpHeader& h = parsed->header;
    if (h.mode != Mode::Server) {
        ++counters_.wrong_mode;
        return actions;
    }
    // A basic reply echoes our transmit cookie; an interleaved one our
    // receive field.
    const bool interleaved_reply = outstanding_ && outstanding_->interleaved_origin &&
                                   h.origin_time == *outstanding_->interleaved_origin;
    if (!outstanding_ || outstanding_->request_id != request_id ||
        (h.origin_time != outstanding_->cookie && !interleaved_reply)) {
        if (last_cookie_ && h.origin_time == *last_cookie_) {
            ++counters_.duplicate;  // TEST1
        } else {
            ++counters_.bogus;  // TEST2
        }
        return actions;
    }
    const Outstanding request = *outstanding_;
    outstanding_.reset();
    last_cookie_ = request.cookie;

    if (auto kiss = kiss_code(h)) {
        switch (*kiss) {
            case KissCode::Rate:
                ++counters_.kiss_rate;
                burst_remaining_ = 0;
                poll_.on_rate_kiss(h.poll);
                actions.push_back(SetTimer{from_seconds(poll_.interval_seconds())});
                break;
            case KissCode::Deny:
            case KissCode::Rstr:
                ++counters_.kiss_deny;
                demobilized_ = true;
                actions.push_back(Demobilize{*kiss == KissCode::Deny ? DemobilizeReason::KissDeny
                                                                     : DemobilizeReason::KissRstr});
                break;
            case KissCode::Other:
                ++counters_.kiss_other;
                break;
        }
        return actions;
    }
    if (h.receive_time.is_zero() || h.transmit_time.is_zero()) {
        ++counters_.invalid_timestamps;  // TEST3
        return actions;
    }
    // The server answered: it is reachable even if its time is unusable.
    reach_.on_reply();
    unreachable_reported_ = false;
    server_ = h;
    has_server_ = true;
    if (request.across_step) {
        ++counters_.across_step;  // reachable, but t1 and t4 straddle a step
        return actions;
    }
    if (h.leap == LeapIndicator::Unsynchronized || h.stratum >= kMaxStratum) {
        ++counters_.unsynchronized;  // TEST6
        return actions;
    }
    const double root_delay = to_seconds(to_duration(h.root_delay));
    const double root_dispersion = to_seconds(to_duration(h.root_dispersion));
    // The server's newest time in this reply: an interleaved reply's transmit
    // field belongs to the previous exchange, and the server may have
    // updated its clock since.
    const NtpTimestamp server_now = interleaved_reply ? h.receive_time : h.transmit_time;
    const bool reference_in_future =
        !h.reference_time.is_zero() && difference(h.reference_time, server_now).count() > 0;
    if (root_delay / 2 + root_dispersion >= kMaxDispersion || reference_in_future) {
        ++counters_.bad_header;  // TEST7
        return actions;
    }
    // This exchange, kept for the next interleaved request whatever becomes
    // of its sample.
    const std::optional<PreviousExchange> before = previous_;
    if (config_.xleave) {
        previous_ = PreviousExchange{request.sent,        h.receive_time,
                                     receive_time,        receive_time.to_timestamp(),
                                     request.sent_source, receive_source};
    }
    // Basic: t1..t4 of this exchange. Interleaved: of the previous one, its
    // t3 (taken after that reply left) in this reply's transmit field.
    NtpInstant sent = request.sent;
    NtpInstant received = receive_time;
    NtpTimestamp server_receive = h.receive_time;
    ExchangeKind kind{false, request.sent_source, receive_source};
    if (interleaved_reply) {
        if (!before) {
            ++counters_.invalid_timestamps;
            return actions;
        }
        sent = before->sent;
        received = before->received;
        server_receive = before->server_receive;
        kind = ExchangeKind{true, before->sent_source, before->received_source};
        // The server sent its reply after it received our request, and not
        // long after (kMaxTransmitLag): anything else pairs t3 with the wrong
        // exchange.
        const Nanoseconds turnaround = difference(h.transmit_time, server_receive);
        if (turnaround < Nanoseconds(0) || turnaround > kMaxTransmitLag) {
            ++counters_.invalid_timestamps;
            return actions;
        }
        ++counters_.interleaved;
    }
    const NtpTimestamp t1 = sent.to_timestamp();
    const NtpTimestamp t4 = received.to_timestamp();
    if (difference(t4, t1).count() < 0) {
        ++counters_.invalid_timestamps;  // received before sent: local clock went back
        return actions;
    }
    const OnWireSample sample = measure_on_wire(t1, server_receive, h.transmit_time, t4,
                                                config_.local_precision, h.precision);
    ++counters_.replies_accepted;
    last_exchange_ = LastExchange{h, sent, server_receive, h.transmit_time, received, sample, kind};

    // The offset belongs to the midpoint of the exchange on the local clock.
    const NtpInstant midpoint = sent + (received - sent) / 2;
    const RawPoint raw = ledger_->at(midpoint);
    estimator_.add(raw, to_seconds(sample.offset), to_seconds(sample.delay), midpoint);
    filter_.add_sample(sample, received, poll_.interval_seconds());
    if (!startup_complete_ && filter_.valid_stages() >= kBurstEnoughSamples) {
        startup_complete_ = true;
    }
    if (!in_burst()) {
        poll_.on_estimate(estimator_.balanced_interval(), estimator_.last_was_outlier());
    }
    // Every sample is news for the discipline, whatever the clock filter
    // made of it.
    actions.push_back(UpdateSystem{snapshot()});
    return actions;
}

bool NtpSource::handle_transmit_timestamp(uint64_t request_id, NtpInstant sent) {
    if (demobilized_ || !outstanding_ || outstanding_->request_id != request_id) return false;
    const Nanoseconds lag = sent - outstanding_->prepared;
    // The stamp is taken after the request was prepared, in the same second.
    if (lag < Nanoseconds(0) || lag > kMaxTransmitLag) return false;
    outstanding_->sent = sent;
    outstanding_->sent_source = StampSource::Kernel;
    ++counters_.kernel_tx_timestamps;
    return true;
}

SourceActions NtpSource::reset_after_clock_step() {
    filter_.reset();
    previous_.reset();  // its timestamps are on the old timescale
    estimator_ = SourceEstimator(ledger_->frequency());
    return {Reset{ResetReason::ClockStep}};
}

void NtpSource::restart_estimates() {
    filter_.reset();
    estimator_ = SourceEstimator(ledger_->frequency());
    startup_complete_ = false;
    poll_.reset();
}

std::optional<uint64_t> NtpSource::outstanding_request() const {
    if (!outstanding_) return std::nullopt;
    return outstanding_->request_id;
}

SourceSnapshot NtpSource::snapshot() const {
    SourceSnapshot s;
    s.id = id_;
    s.has_statistics = filter_.has_statistics();
    s.starting = !startup_complete_ && !unreachable_reported_ &&
                 !(has_server_ && (server_.leap == LeapIndicator::Unsynchronized ||
                                   server_.stratum >= kMaxStratum));
    // Once the estimator has enough samples, selection judges the source by
    // it (selectable_source.hpp). The clock filter's dispersion ages each of
    // its 8 stages by 15 ppm: at long polls (2 s a stage at poll 17) that
    // alone would make a good source unfit.
    s.statistics =
        selection_statistics(filter_, estimator_, config_.local_precision, kBurstEnoughSamples);
    s.reach = reach_.value();
    s.poll = poll_.poll();
    s.address_reference_id = address_reference_id_;
    s.trust = config_.trust;
    if (has_server_) {
        s.leap = server_.leap;
        s.stratum = server_.stratum;
        s.root_delay = to_seconds(to_duration(server_.root_delay));
        s.root_dispersion = to_seconds(to_duration(server_.root_dispersion));
        s.reference_id = server_.reference_id;
    }
    return s;
}

}  // namespace nanotime::ntp
