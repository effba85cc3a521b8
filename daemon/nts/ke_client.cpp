// ke_client.cpp - the NTS-KE client state machine (see ke_client.hpp).
#include "nts/ke_client.hpp"

#include <algorithm>
#include <utility>

namespace nts {

std::string_view to_string(KeClientError error) {
    switch (error) {
        case KeClientError::InvalidConfig:
            return "invalid NTS-KE client configuration";
        case KeClientError::ServerError:
            return "server sent an Error record";
        case KeClientError::UnrecognizedWarning:
            return "server sent an unrecognized Warning record";
        case KeClientError::UnrecognizedCritical:
            return "server sent an unrecognized critical record";
        case KeClientError::Malformed:
            return "malformed response";
        case KeClientError::ResponseTooLong:
            return "response longer than the limit";
        case KeClientError::MissingEndOfMessage:
            return "connection closed before End of Message";
        case KeClientError::NoNextProtocol:
            return "no Next Protocol record";
        case KeClientError::NoCommonProtocol:
            return "server does not offer NTPv4";
        case KeClientError::ProtocolNotNtpv4:
            return "server chose a protocol that was not offered";
        case KeClientError::NoAead:
            return "no AEAD Algorithm record";
        case KeClientError::NoCommonAead:
            return "no AEAD algorithm in common";
        case KeClientError::AeadNotOffered:
            return "server chose an AEAD algorithm that was not offered";
        case KeClientError::NoCookies:
            return "no cookies";
        case KeClientError::KeyExportFailed:
            return "key export failed";
    }
    return "unknown NTS-KE client error";
}

KeClientSession::KeClientSession(KeClientConfig config, KeyExporter exporter)
    : config_(std::move(config)),
      exporter_(std::move(exporter)),
      decoder_(config_.max_response_bytes) {
    const auto& aeads = config_.aead_algorithms;
    if (aeads.empty() || !std::all_of(aeads.begin(), aeads.end(), [](uint16_t id) {
            return aead_key_length(id).has_value();
        })) {
        fail(KeClientError::InvalidConfig, "no AEAD algorithm, or one without a key length");
        return;
    }
    const uint16_t protocol = kNextProtocolNtpV4;
    static_cast<void>(append_next_protocol(request_, {&protocol, 1}));
    static_cast<void>(append_aead_algorithms(request_, true, aeads));
    if (config_.request_ntp_server &&
        !append_ntp_server(request_, false, *config_.request_ntp_server)) {
        request_.clear();
        fail(KeClientError::InvalidConfig, "NTP server name to request is invalid");
        return;
    }
    if (config_.request_ntp_port) append_ntp_port(request_, false, *config_.request_ntp_port);
    append_end_of_message(request_);
}

KeClientStatus KeClientSession::fail(KeClientError error, std::string_view detail, uint16_t code) {
    failure_.error = error;
    failure_.detail = detail;
    failure_.code = code;
    status_ = KeClientStatus::Failed;
    result_ = KeClientResult{};  // §4.1.3: discard what was received
    return status_;
}

KeClientStatus KeClientSession::feed(std::span<const uint8_t> bytes) {
    if (status_ != KeClientStatus::NeedMore) return status_;
    decoder_.feed(bytes);
    for (;;) {
        auto next = decoder_.next();
        if (!next) {
            const RecordError error = next.error();
            failure_.record = error;
            if (error == RecordError::UnrecognizedCritical) {
                return fail(KeClientError::UnrecognizedCritical, to_string(error));
            }
            if (error == RecordError::MessageTooLong) {
                return fail(KeClientError::ResponseTooLong, to_string(error));
            }
            return fail(KeClientError::Malformed, to_string(error));
        }
        if (!next->has_value()) return status_;
        const Record& record = **next;
        if (record.is(RecordType::EndOfMessage)) return complete();
        if (take(record) == KeClientStatus::Failed) return status_;
    }
}

KeClientStatus KeClientSession::peer_closed() {
    if (status_ != KeClientStatus::NeedMore) return status_;
    return fail(KeClientError::MissingEndOfMessage, "closed before End of Message");
}

KeClientStatus KeClientSession::take(const Record& record) {
    switch (static_cast<RecordType>(record.type)) {
        case RecordType::Error:
            // §4.1.3: discard everything and abort; what follows is not read.
            return fail(KeClientError::ServerError, "Error record", read_u16(record.body));
        case RecordType::Warning:
            return fail(KeClientError::UnrecognizedWarning, "Warning record",
                        read_u16(record.body));
        case RecordType::NextProtocol:
            if (protocols_) return fail(KeClientError::Malformed, "two Next Protocol records");
            protocols_ = read_u16_list(record.body);
            return status_;
        case RecordType::AeadAlgorithm:
            if (aeads_) return fail(KeClientError::Malformed, "two AEAD Algorithm records");
            aeads_ = read_u16_list(record.body);
            return status_;
        case RecordType::NewCookie:
            result_.cookies.push_back(record.body);
            return status_;
        case RecordType::NtpServer:
            if (server_) return fail(KeClientError::Malformed, "two NTPv4 Server records");
            server_ = std::string(read_text(record.body));
            return status_;
        case RecordType::NtpPort:
            if (port_) return fail(KeClientError::Malformed, "two NTPv4 Port records");
            port_ = read_u16(record.body);
            if (*port_ == 0) return fail(KeClientError::Malformed, "NTPv4 port 0");
            return status_;
        case RecordType::EndOfMessage:
            break;
    }
    ++result_.ignored_records;  // unknown and not critical (critical ones fail in the decoder)
    return status_;
}

KeClientStatus KeClientSession::complete() {
    if (!protocols_) return fail(KeClientError::NoNextProtocol, "no Next Protocol record");
    if (protocols_->empty()) return fail(KeClientError::NoCommonProtocol, "empty Next Protocol");
    if (protocols_->size() != 1 || protocols_->front() != kNextProtocolNtpV4) {
        return fail(KeClientError::ProtocolNotNtpv4, "Next Protocol is not {NTPv4}");
    }
    if (!aeads_) return fail(KeClientError::NoAead, "no AEAD record");
    if (aeads_->empty()) return fail(KeClientError::NoCommonAead, "empty AEAD record");
    const auto& offered = config_.aead_algorithms;
    if (aeads_->size() != 1 ||
        std::find(offered.begin(), offered.end(), aeads_->front()) == offered.end()) {
        return fail(KeClientError::AeadNotOffered, "AEAD record is not one offered id");
    }
    if (result_.cookies.empty()) return fail(KeClientError::NoCookies, "no New Cookie record");
    auto keys = export_nts_keys(exporter_, aeads_->front());
    if (!keys) return fail(KeClientError::KeyExportFailed, "exporter gave no keys");
    result_.keys = std::move(*keys);
    result_.ntp_server = server_ ? *server_ : config_.ke_host;
    result_.ntp_port = port_ ? *port_ : kDefaultNtpPort;
    status_ = KeClientStatus::Done;
    return status_;
}

}  // namespace nts
