#include "server/ntp_server.hpp"

#include <algorithm>
#include <cmath>

#include "packet/codec.hpp"
#include "packet/reference_id.hpp"

namespace nanotime::ntp {
namespace {

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

    NtpHeader reply;
    reply.version = query.version;
    reply.mode = Mode::Server;
    reply.poll = std::clamp<int8_t>(query.poll, kMinPoll, kMaxPoll);
    reply.precision = system.precision;
    reply.origin_time = query.transmit_time;
    reply.receive_time = receive_time.to_timestamp();
    reply.transmit_time = transmit_time.to_timestamp();

    if (rate_limiter_) {
        switch (rate_limiter_->check(client.ip, receive_time)) {
            case RateDecision::Allow:
                break;
            case RateDecision::KissOfDeath:
                ++counters_.rate_limited_kod;
                reply.leap = LeapIndicator::Unsynchronized;
                reply.stratum = 0;
                reply.reference_id = kKissRate;
                reply.poll = std::max(reply.poll, poll_for(config_.rate_limit->interval));
                response.decision = ServerDecision::KissOfDeath;
                response.packet = serialize_header(reply);
                return response;
            case RateDecision::Drop:
                ++counters_.rate_limited_dropped;
                return response;
        }
    }

    counters_.extension_fields_ignored += trailer->extension_fields;
    const bool serves = system.serves_time_at(transmit_time);
    reply.leap = serves ? system.leap : LeapIndicator::Unsynchronized;
    reply.stratum = serves ? system.stratum : kMaxStratum;
    reply.reference_id = system.reference_id;
    reply.root_delay = to_short(from_seconds(std::min(system.root_delay, 65536.0)));
    reply.root_dispersion =
        to_short(from_seconds(std::min(system.root_dispersion_at(transmit_time), 65536.0)));
    if (system.has_reference_time) reply.reference_time = system.reference_time.to_timestamp();
    ++counters_.replied;
    response.decision = ServerDecision::Reply;
    response.packet = serialize_header(reply);
    return response;
}

}  // namespace nanotime::ntp
