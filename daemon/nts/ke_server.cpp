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
    }
    return "unknown";
}

KeServerSession::KeServerSession(KeServerConfig config, KeyExporter exporter, CookieSource& cookies)
    : config_(std::move(config)),
      exporter_(std::move(exporter)),
      cookies_(cookies),
      decoder_(config_.max_request_bytes) {}

KeServerAction KeServerSession::feed(std::span<const uint8_t> bytes) {
    if (responded_) return {{}, true};  // data after End of Message: ignored
    decoder_.feed(bytes);
    for (;;) {
        auto next = decoder_.next();
        if (!next) {
            const RecordError error = next.error();
            const KeErrorCode code = error == RecordError::UnrecognizedCritical
                                         ? KeErrorCode::UnrecognizedCriticalRecord
                                         : KeErrorCode::BadRequest;
            return finish(refuse(code, to_string(error)));
        }
        if (!next->has_value()) return {};  // need more octets
        const Record& record = **next;
        if (record.is(RecordType::EndOfMessage)) return finish(respond());
        if (const auto bad = take(record)) return finish(refuse(KeErrorCode::BadRequest, *bad));
    }
}

KeServerAction KeServerSession::finish(std::vector<uint8_t> response) {
    responded_ = true;
    return {std::move(response), true};
}

std::optional<std::string_view> KeServerSession::take(const Record& record) {
    switch (static_cast<RecordType>(record.type)) {
        case RecordType::NextProtocol:
            if (protocols_) return "two Next Protocol records";
            if (record.body.empty()) return "Next Protocol record offers no protocol";
            protocols_ = read_u16_list(record.body);
            return std::nullopt;
        case RecordType::AeadAlgorithm:
            if (aeads_) return "two AEAD Algorithm records";
            aeads_ = read_u16_list(record.body);
            return std::nullopt;
        case RecordType::Error:
        case RecordType::Warning:
            return "Error or Warning record in a request";
        case RecordType::NtpServer:
            if (client_server_) return "two NTPv4 Server records";
            client_server_ = true;  // a suggestion the server may ignore (§4.1.7); it does
            return std::nullopt;
        case RecordType::NtpPort:
            if (client_port_) return "two NTPv4 Port records";
            client_port_ = true;
            return std::nullopt;
        case RecordType::NewCookie:
        case RecordType::EndOfMessage:
            break;
    }
    ++ignored_records_;  // a cookie, or an unknown non-critical record
    return std::nullopt;
}

std::vector<uint8_t> KeServerSession::refuse(KeErrorCode code, std::string_view reason) {
    outcome_ = KeServerOutcome::ErrorSent;
    error_code_ = code;
    reason_ = reason;
    std::vector<uint8_t> out;
    append_error(out, code);
    append_end_of_message(out);
    return out;
}

std::vector<uint8_t> KeServerSession::respond() {
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
    const uint16_t protocol = kNextProtocolNtpV4;
    static_cast<void>(append_next_protocol(out, {&protocol, 1}));
    const auto chosen = std::find_if(
        config_.aead_algorithms.begin(), config_.aead_algorithms.end(), [this](uint16_t id) {
            return aead_key_length(id).has_value() && aead_supported(id) &&
                   std::find(aeads_->begin(), aeads_->end(), id) != aeads_->end();
        });
    if (chosen == config_.aead_algorithms.end()) {
        outcome_ = KeServerOutcome::NoCommonAead;
        static_cast<void>(append_aead_algorithms(out, true, {}));
        append_end_of_message(out);
        return out;
    }
    auto keys = export_nts_keys(exporter_, *chosen);
    if (!keys) return refuse(KeErrorCode::InternalServerError, "key export failed");
    static_cast<void>(append_aead_algorithms(out, true, {&*chosen, 1}));
    if (config_.ntp_server && !append_ntp_server(out, true, *config_.ntp_server)) {
        return refuse(KeErrorCode::InternalServerError, "configured NTP server name invalid");
    }
    if (config_.ntp_port) append_ntp_port(out, true, *config_.ntp_port);
    for (size_t i = 0; i < config_.cookie_count; ++i) {
        const std::vector<uint8_t> cookie = cookies_.make_cookie(*keys);
        if (!append_new_cookie(out, cookie)) {
            return refuse(KeErrorCode::InternalServerError, "cookie source failed");
        }
    }
    append_end_of_message(out);
    outcome_ = KeServerOutcome::KeysIssued;
    keys_ = std::move(keys);
    return out;
}

}  // namespace nts
