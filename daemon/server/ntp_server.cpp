#include "server/ntp_server.hpp"

#include <algorithm>
#include <cmath>

#include "packet/codec.hpp"
#include "packet/reference_id.hpp"

namespace nanotime::ntp {
namespace {

constexpr uint64_t kReceiveMark = 1;  // the low bit of our receive fields

// Smallest poll exponent (log2 s) whose interval is at least @interval.
int8_t poll_for(Nanoseconds interval) {
    int8_t poll = 0;
    while (poll < kMaxPoll && log2_to_seconds(poll) < to_seconds(interval)) ++poll;
    return poll;
}

}  // namespace

bool ServerConfig::uses_privileged_port() const {
    for (const SocketAddress& a : listen) {
        if (a.port < 1024) return true;
    }
    return false;
}

NtpServer::NtpServer(ServerConfig config, RandomSource& random) : config_(std::move(config)) {
    if (config_.rate_limit) rate_limiter_.emplace(*config_.rate_limit, random);
    if (config_.interleaved) interleaved_.emplace(config_.interleaved_memory, random);
}

void NtpServer::transmitted(const IpAddress& client, NtpTimestamp receive_field,
                            NtpInstant transmit, StampSource source) {
    if (interleaved_ && interleaved_->update_transmit(client, receive_field, transmit, source))
        ++counters_.tx_stamps;
}

ServerResponse NtpServer::handle(std::span<const uint8_t> request, const SocketAddress& client,
                                 NtpInstant receive_time, NtpInstant transmit_time,
                                 const SystemState& system) {
    ++counters_.received;
    ServerResponse response;
    if (!config_.access.permits(client.ip)) {
        ++counters_.denied;
        return response;
    }
    const auto trailer = validate_trailer(request);
    if (!trailer) {
        ++counters_.malformed;
        return response;
    }
    const NtpHeader query = *parse_header(request);  // validated above
    if (query.mode != Mode::Client) {
        ++counters_.wrong_mode;
        return response;
    }
    if (trailer->has_mac) {
        ++counters_.authenticated;
        return response;
    }
    // NTS: the cookie and authenticator are checked before anything answers.
    nts::NtsRequest nts_request;
    const int64_t unix_seconds = receive_time.to_unix().count() / kNanosPerSecond;
    if (nts_ != nullptr && trailer->extension_fields > 0) {
        nts_request = nts_->check(request, unix_seconds);
        if (nts_request.verdict == nts::NtsVerdict::Drop) {
            ++counters_.nts_dropped;
            return response;
        }
    }
    const bool is_nts = nts_request.verdict != nts::NtsVerdict::NotNts;
    // Writes @header, then the NTS fields for an NTS request.
    const auto finish = [&](const NtpHeader& header, ServerDecision decision) {
        const auto head = serialize_header(header);
        std::copy(head.begin(), head.end(), response.packet.begin());
        response.length = kHeaderLength;
        if (is_nts) {
            const auto n = nts_->respond(nts_request, head, unix_seconds, response.packet);
            if (!n) {
                ++counters_.nts_dropped;
                return false;
            }
            response.length = *n;
        }
        response.decision = decision;
        return true;
    };

    NtpHeader reply;
    reply.version = query.version;
    reply.mode = Mode::Server;
    reply.poll = std::clamp<int8_t>(query.poll, kMinPoll, kMaxPoll);
    reply.precision = system.precision;
    reply.origin_time = query.transmit_time;
    // The low bits mark which of our timestamps a request's origin field
    // echoes (2^-32 s, below any clock's precision): a set one is a receive
    // field, so only those requests can be interleaved.
    reply.receive_time = NtpTimestamp{receive_time.to_timestamp().raw | kReceiveMark};
    reply.transmit_time = NtpTimestamp{transmit_time.to_timestamp().raw & ~kReceiveMark};

    if (rate_limiter_) {
        // An NTS request over the limit is dropped, never KoD'd (a RATE
        // kiss-o'-death would be unauthenticated): the limiter knows.
        switch (rate_limiter_->check(client.ip, receive_time, is_nts)) {
            case RateDecision::Allow:
                break;
            case RateDecision::KissOfDeath:
                ++counters_.rate_limited_kod;
                reply.leap = LeapIndicator::Unsynchronized;
                reply.stratum = 0;
                reply.reference_id = kKissRate;
                reply.poll = std::max(reply.poll, poll_for(config_.rate_limit->interval));
                finish(reply, ServerDecision::KissOfDeath);
                return response;
            case RateDecision::Drop:
                ++counters_.rate_limited_dropped;
                return response;
        }
    }

    if (nts_request.verdict == nts::NtsVerdict::Nak) {
        // RFC 8915 §5.7: the cookie does not open; the client must redo
        // NTS-KE. The unique identifier lets it trust this unauthenticated
        // kiss-o'-death.
        reply.leap = LeapIndicator::Unsynchronized;
        reply.stratum = 0;
        reply.reference_id = nts::kKissNtsNak;
        if (finish(reply, ServerDecision::KissOfDeath)) ++counters_.nts_nak;
        return response;
    }
    if (!is_nts) counters_.extension_fields_ignored += trailer->extension_fields;
    const bool serves = system.serves_time_at(transmit_time);
    reply.leap = serves ? system.leap : LeapIndicator::Unsynchronized;
    reply.stratum = serves ? system.stratum : kMaxStratum;
    reply.reference_id = system.reference_id;
    reply.root_delay = to_short(from_seconds(std::min(system.root_delay, 65536.0)));
    reply.root_dispersion =
        to_short(from_seconds(std::min(system.root_dispersion_at(transmit_time), 65536.0)));
    if (system.has_reference_time) reply.reference_time = system.reference_time.to_timestamp();
    // Interleaved: NTPv4, an origin that is one of our receive fields, and a
    // receive field unlike the transmit field (a client in basic mode sends
    // both equal, or zero). Basic-mode requests skip all of this.
    if (interleaved_ && query.version == 4 && (query.origin_time.raw & kReceiveMark) != 0 &&
        query.receive_time != query.transmit_time) {
        if (const auto earlier = interleaved_->take(client.ip, query.origin_time)) {
            reply.origin_time = query.receive_time;
            reply.transmit_time =
                NtpTimestamp{earlier->transmit.to_timestamp().raw & ~kReceiveMark};
            response.interleaved = true;
            response.transmit_source = earlier->source;
        }
        interleaved_->save(client.ip, reply.receive_time, transmit_time);
        response.wants_tx_stamp = true;
        response.receive_field = reply.receive_time;
    }
    if (finish(reply, ServerDecision::Reply)) {
        ++counters_.replied;
        if (response.interleaved) {
            ++counters_.interleaved;
            if (rate_limiter_) rate_limiter_->count_interleaved(client.ip);
        }
    }
    return response;
}

}  // namespace nanotime::ntp
