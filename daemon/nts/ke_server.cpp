// ke_server.cpp - the NTS-KE server state machine (see ke_server.hpp).
#include "nts/ke_server.hpp"

#include <algorithm>
#include <utility>

#include "nts/aead.hpp"

namespace nts {

std::string_view to_string(KeServerOutcome outcome) {
    switch (outcome) {
        case KeServerOutcome::Pending:
            return "pending";
        case KeServerOutcome::KeysIssued:
            return "keys issued";
        case KeServerOutcome::NoCommonProtocol:
            return "no common next protocol";
        case KeServerOutcome::NoCommonAead:
            return "no common AEAD algorithm";
        case KeServerOutcome::ErrorSent:
            return "error sent";
        case KeServerOutcome::PoolSupportSent:
            return "pool supported lists sent";
        case KeServerOutcome::PoolKeysIssued:
            return "pool fixed keys issued";
    }
    return "unknown";
}

std::string_view to_string(PoolRefusal refusal) {
    switch (refusal) {
        case PoolRefusal::None:
            return "none";
        case PoolRefusal::NoCertificate:
            return "no pool client certificate";
        case PoolRefusal::CertificateRejected:
            return "client certificate not issued by the pool CA";
        case PoolRefusal::BadToken:
            return "pool authentication token missing or wrong";
        case PoolRefusal::Malformed:
            return "malformed pool request";
        case PoolRefusal::UnsupportedProtocol:
            return "fixed key for an unsupported next protocol";
        case PoolRefusal::UnsupportedAead:
            return "fixed key for an unsupported AEAD";
        case PoolRefusal::Internal:
            return "cookie source failed";
    }
    return "unknown";
}

KeServerSession::KeServerSession(KeServerConfig config, KeyExporter exporter, CookieSource& cookies,
                                 PoolPeer peer, KeepAliveGate keep_alive)
    : config_(std::move(config)),
      exporter_(std::move(exporter)),
      cookies_(cookies),
      peer_(config_.pool.enabled ? peer : PoolPeer::NoCertificate),
      keep_alive_gate_(std::move(keep_alive)),
      decoder_(config_.max_request_bytes) {}

KeServerAction KeServerSession::feed(std::span<const uint8_t> bytes) {
    if (responded_) return {{}, true, {}};  // data after the last End of Message: ignored
    KeServerAction action;
    size_t at = 0;
    while (!responded_) {
        auto next = decoder_.next();
        if (!next) {
            const RecordError error = next.error();
            const KeErrorCode code = error == RecordError::UnrecognizedCritical
                                         ? KeErrorCode::UnrecognizedCriticalRecord
                                         : KeErrorCode::BadRequest;
            finish(action, refuse(code, to_string(error)));
            break;
        }
        if (!next->has_value()) {
            // The decoder gets no more than the current message may still
            // hold: octets past it belong to the next request of a Keep
            // Alive session (pipelined), which restart() starts afresh,
            // whatever the chunking. An over-long message is refused by
            // the decoder once it holds the limit without End of Message.
            const size_t room = config_.max_request_bytes -
                                std::min(decoder_.message_bytes(), config_.max_request_bytes);
            if (at == bytes.size() || room == 0) break;
            const size_t take = std::min(room, bytes.size() - at);
            decoder_.feed(bytes.subspan(at, take));
            at += take;
            continue;
        }
        const Record& record = **next;
        if (record.is(RecordType::EndOfMessage)) {
            finish(action, respond());
        } else if (const auto bad = take(record)) {
            finish(action, refuse(bad->code, bad->reason));
        }
    }
    return action;
}

void KeServerSession::finish(KeServerAction& action, std::vector<uint8_t> response) {
    ++requests_answered_;
    KeRequestResult result;
    result.outcome = outcome_;
    result.error_code = outcome_ == KeServerOutcome::ErrorSent ? error_code_ : std::nullopt;
    result.pool_request =
        wants_protocols_ || wants_algorithms_ || fixed_key_.has_value() || refused_pool_record_;
    result.pool_refusal = pool_refusal_;
    result.keep_alive = keep_alive_granted_;
    result.denied_servers = denied_.size();
    action.answered.push_back(result);
    action.write.insert(action.write.end(), response.begin(), response.end());
    if (keep_alive_granted_) {
        // The next request starts with the octets after this End of Message.
        decoder_.restart();
        start_request();
        return;
    }
    responded_ = true;
    action.close_after_write = true;
}

void KeServerSession::start_request() {
    protocols_.reset();
    aeads_.reset();
    client_server_ = false;
    client_port_ = false;
    wants_protocols_ = false;
    wants_algorithms_ = false;
    fixed_key_.reset();
    keep_alive_requested_ = false;
    token_.reset();
    denied_.clear();
    keep_alive_granted_ = false;
    refused_pool_record_ = false;
    pool_refusal_ = PoolRefusal::None;
    outcome_ = KeServerOutcome::Pending;
    error_code_.reset();
    reason_ = {};
}

std::optional<KeServerSession::Refusal> KeServerSession::take(const Record& record) {
    if (is_pool_record(record.type)) return take_pool(record);
    switch (static_cast<RecordType>(record.type)) {
        case RecordType::NextProtocol:
            if (protocols_) return Refusal{KeErrorCode::BadRequest, "two Next Protocol records"};
            if (record.body.empty())
                return Refusal{KeErrorCode::BadRequest, "Next Protocol record offers no protocol"};
            protocols_ = read_u16_list(record.body);
            return std::nullopt;
        case RecordType::AeadAlgorithm:
            if (aeads_) return Refusal{KeErrorCode::BadRequest, "two AEAD Algorithm records"};
            aeads_ = read_u16_list(record.body);
            return std::nullopt;
        case RecordType::Error:
        case RecordType::Warning:
            return Refusal{KeErrorCode::BadRequest, "Error or Warning record in a request"};
        case RecordType::NtpServer:
            if (client_server_) return Refusal{KeErrorCode::BadRequest, "two NTPv4 Server records"};
            client_server_ = true;  // a suggestion the server may ignore (§4.1.7); it does
            return std::nullopt;
        case RecordType::NtpPort:
            if (client_port_) return Refusal{KeErrorCode::BadRequest, "two NTPv4 Port records"};
            client_port_ = true;
            return std::nullopt;
        case RecordType::NewCookie:
        case RecordType::EndOfMessage:
            break;
    }
    ++ignored_records_;  // a cookie, or an unknown non-critical record
    return std::nullopt;
}

std::optional<KeServerSession::Refusal> KeServerSession::take_pool(const Record& record) {
    const auto type = static_cast<PoolRecordType>(record.type);
    if (type == PoolRecordType::NtpServerDeny) {
        // A client's record (to a pool, or to us): kept and counted, not acted on.
        denied_.emplace_back(read_text(record.body));
        return std::nullopt;
    }
    // Everything else is for an authenticated pool only: to anyone else the
    // critical ones are unrecognized (the draft's suggestion) and the others
    // unknown, ignored.
    if (peer_ != PoolPeer::CertificateVerified) {
        if (!record.critical) {
            ++ignored_records_;
            return std::nullopt;
        }
        pool_refusal_ = peer_ == PoolPeer::NoCertificate ? PoolRefusal::NoCertificate
                                                         : PoolRefusal::CertificateRejected;
        refused_pool_record_ = true;
        return Refusal{KeErrorCode::UnrecognizedCriticalRecord, to_string(pool_refusal_)};
    }
    const auto malformed = [this](std::string_view why) {
        pool_refusal_ = PoolRefusal::Malformed;
        return Refusal{KeErrorCode::BadRequest, why};
    };
    switch (type) {
        case PoolRecordType::KeepAlive:
            keep_alive_requested_ = true;  // a body is ignored (draft)
            return std::nullopt;
        case PoolRecordType::SupportedNextProtocolList:
            if (wants_protocols_) return malformed("two Supported Next Protocol List records");
            wants_protocols_ = true;  // the request's body is ignored (draft: MUST)
            return std::nullopt;
        case PoolRecordType::SupportedAlgorithmList:
            if (wants_algorithms_) return malformed("two Supported Algorithm List records");
            wants_algorithms_ = true;
            return std::nullopt;
        case PoolRecordType::FixedKeyRequest:
            if (fixed_key_) return malformed("two Fixed Key Request records");
            fixed_key_ = record.body;
            return std::nullopt;
        case PoolRecordType::Authentication:
            if (token_) return malformed("two Authentication records");
            token_ = std::string(read_text(record.body));
            return std::nullopt;
        case PoolRecordType::NtpServerDeny:
            break;
    }
    return std::nullopt;
}

std::vector<uint8_t> KeServerSession::refuse(KeErrorCode code, std::string_view reason) {
    outcome_ = KeServerOutcome::ErrorSent;
    error_code_ = code;
    reason_ = reason;
    keep_alive_granted_ = false;
    std::vector<uint8_t> out;
    append_error(out, code);
    append_end_of_message(out);
    return out;
}

std::vector<uint8_t> KeServerSession::refuse_pool(PoolRefusal why, KeErrorCode code,
                                                  std::string_view reason) {
    pool_refusal_ = why;
    return refuse(code, reason);
}

bool KeServerSession::grant_keep_alive() {
    if (!keep_alive_requested_) return false;
    // The last request a session may carry closes it.
    if (requests_answered_ + 1 >= config_.pool.max_requests) return false;
    if (!kept_alive_) {
        if (!keep_alive_gate_ || !keep_alive_gate_()) return false;
        kept_alive_ = true;
    }
    return true;
}

std::vector<uint8_t> KeServerSession::respond() {
    if (wants_protocols_ || wants_algorithms_ || fixed_key_) return respond_pool();
    // Once Keep Alive was honoured the session never exports keys (draft).
    if (kept_alive_) return refuse(KeErrorCode::BadRequest, "key exchange on a Keep Alive session");
    if (!protocols_) return refuse(KeErrorCode::BadRequest, "no Next Protocol record");
    std::vector<uint8_t> out;
    const bool ntpv4 =
        std::find(protocols_->begin(), protocols_->end(), kNextProtocolNtpV4) != protocols_->end();
    if (!ntpv4) {
        outcome_ = KeServerOutcome::NoCommonProtocol;
        static_cast<void>(append_next_protocol(out, {}));
        append_end_of_message(out);
        return out;
    }
    // RFC 8915 §4.1.5: with NTPv4 offered the AEAD record is required.
    if (!aeads_) return refuse(KeErrorCode::BadRequest, "NTPv4 offered without an AEAD record");
    const auto chosen = std::find_if(
        config_.aead_algorithms.begin(), config_.aead_algorithms.end(), [this](uint16_t id) {
            return aead_key_length(id).has_value() && aead_supported(id) &&
                   std::find(aeads_->begin(), aeads_->end(), id) != aeads_->end();
        });
    if (chosen == config_.aead_algorithms.end()) {
        outcome_ = KeServerOutcome::NoCommonAead;
        const uint16_t protocol = kNextProtocolNtpV4;
        static_cast<void>(append_next_protocol(out, {&protocol, 1}));
        static_cast<void>(append_aead_algorithms(out, true, {}));
        append_end_of_message(out);
        return out;
    }
    auto keys = export_nts_keys(exporter_, *chosen);
    if (!keys) return refuse(KeErrorCode::InternalServerError, "key export failed");
    out = issue(*chosen, *keys);
    if (outcome_ == KeServerOutcome::PoolKeysIssued) {
        outcome_ = KeServerOutcome::KeysIssued;
        keys_ = std::move(keys);
    }
    return out;
}

std::vector<uint8_t> KeServerSession::issue(uint16_t aead, const NtsKeys& keys) {
    std::vector<uint8_t> out;
    const uint16_t protocol = kNextProtocolNtpV4;
    static_cast<void>(append_next_protocol(out, {&protocol, 1}));
    static_cast<void>(append_aead_algorithms(out, true, {&aead, 1}));
    if (config_.ntp_server && !append_ntp_server(out, true, *config_.ntp_server)) {
        return refuse(KeErrorCode::InternalServerError, "configured NTP server name invalid");
    }
    if (config_.ntp_port) append_ntp_port(out, true, *config_.ntp_port);
    for (size_t i = 0; i < config_.cookie_count; ++i) {
        const std::vector<uint8_t> cookie = cookies_.make_cookie(keys);
        if (!append_new_cookie(out, cookie)) {
            return refuse(KeErrorCode::InternalServerError, "cookie source failed");
        }
    }
    keep_alive_granted_ = fixed_key_.has_value() && grant_keep_alive();
    if (keep_alive_granted_) append_keep_alive(out);
    append_end_of_message(out);
    outcome_ = KeServerOutcome::PoolKeysIssued;
    return out;
}

std::vector<uint8_t> KeServerSession::respond_pool() {
    // Certificate failures were refused at the record; here the peer
    // chains to the pool CA.
    if (!token_ || !config_.pool.tokens.contains(*token_)) {
        return refuse_pool(PoolRefusal::BadToken, KeErrorCode::BadRequest,
                           to_string(PoolRefusal::BadToken));
    }
    if (wants_protocols_ || wants_algorithms_) return respond_support();
    return respond_fixed_key();
}

std::vector<uint8_t> KeServerSession::respond_support() {
    if (protocols_ || aeads_ || fixed_key_) {
        return refuse_pool(PoolRefusal::Malformed, KeErrorCode::BadRequest,
                           "Supported list request with negotiation or Fixed Key records");
    }
    std::vector<uint8_t> out;
    if (wants_protocols_) {
        const uint16_t protocol = kNextProtocolNtpV4;
        static_cast<void>(append_supported_protocols(out, {&protocol, 1}));
    }
    if (wants_algorithms_) {
        std::vector<AlgorithmDescription> list;
        for (const uint16_t id : config_.aead_algorithms) {
            const auto length = aead_key_length(id);
            if (length && aead_supported(id)) list.push_back({id, static_cast<uint16_t>(*length)});
        }
        static_cast<void>(append_supported_algorithms(out, list));
    }
    keep_alive_granted_ = grant_keep_alive();
    if (keep_alive_granted_) append_keep_alive(out);
    append_end_of_message(out);
    outcome_ = KeServerOutcome::PoolSupportSent;
    return out;
}

std::vector<uint8_t> KeServerSession::respond_fixed_key() {
    if (!protocols_ || protocols_->size() != 1) {
        return refuse_pool(PoolRefusal::Malformed, KeErrorCode::BadRequest,
                           "Fixed Key Request without exactly one next protocol");
    }
    if (!aeads_ || aeads_->size() != 1) {
        return refuse_pool(PoolRefusal::Malformed, KeErrorCode::BadRequest,
                           "Fixed Key Request without exactly one AEAD");
    }
    std::vector<uint8_t> out;
    if (protocols_->front() != kNextProtocolNtpV4) {
        pool_refusal_ = PoolRefusal::UnsupportedProtocol;
        outcome_ = KeServerOutcome::NoCommonProtocol;
        static_cast<void>(append_next_protocol(out, {}));
        append_end_of_message(out);
        return out;
    }
    const uint16_t aead = aeads_->front();
    const auto length = aead_key_length(aead);
    const bool ours = std::find(config_.aead_algorithms.begin(), config_.aead_algorithms.end(),
                                aead) != config_.aead_algorithms.end();
    if (!length || !ours || !aead_supported(aead)) {
        pool_refusal_ = PoolRefusal::UnsupportedAead;
        outcome_ = KeServerOutcome::NoCommonAead;
        const uint16_t protocol = kNextProtocolNtpV4;
        static_cast<void>(append_next_protocol(out, {&protocol, 1}));
        static_cast<void>(append_aead_algorithms(out, true, {}));
        append_end_of_message(out);
        return out;
    }
    const auto halves = split_fixed_key(*fixed_key_, *length);
    if (!halves) {
        return refuse_pool(PoolRefusal::Malformed, KeErrorCode::BadRequest,
                           to_string(halves.error()));
    }
    NtsKeys keys;
    keys.aead = aead;
    keys.c2s.assign(halves->first.begin(), halves->first.end());
    keys.s2c.assign(halves->second.begin(), halves->second.end());
    out = issue(aead, keys);
    if (outcome_ == KeServerOutcome::ErrorSent) pool_refusal_ = PoolRefusal::Internal;
    return out;
}

}  // namespace nts
