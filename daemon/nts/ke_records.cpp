// ke_records.cpp - NTS-KE record validation, incremental decoding, encoding.
#include "nts/ke_records.hpp"

#include <algorithm>

#include "net/socket_address.hpp"
#include "nts/ke_pool_records.hpp"

namespace nts {

namespace {

uint16_t load_u16(const uint8_t* p) {
    return static_cast<uint16_t>((static_cast<unsigned>(p[0]) << 8) | p[1]);
}

void store_u16(std::vector<uint8_t>& out, uint16_t value) {
    out.push_back(static_cast<uint8_t>(value >> 8));
    out.push_back(static_cast<uint8_t>(value & 0xff));
}

bool host_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

// Letters, digits and hyphens in dot-separated labels of 1..63 octets, with
// an optional final dot (RFC 1123 §2.1; a dotted quad passes as well).
bool valid_host_name(std::string_view name) {
    if (!std::all_of(name.begin(), name.end(), host_name_char)) return false;
    if (name.back() == '.') name.remove_suffix(1);
    while (!name.empty()) {
        const size_t dot = name.find('.');
        const size_t label = dot == std::string_view::npos ? name.size() : dot;
        if (label == 0 || label > 63) return false;
        if (name[0] == '-' || name[label - 1] == '-') return false;
        if (dot == std::string_view::npos) return true;
        name.remove_prefix(dot + 1);
        if (name.empty()) return false;  // ".." or a second final dot
    }
    return false;
}

}  // namespace

std::string_view to_string(RecordError error) {
    switch (error) {
        case RecordError::MessageTooLong:
            return "message longer than the limit";
        case RecordError::EndOfMessageNotEmpty:
            return "End of Message record with a body";
        case RecordError::CriticalBitMissing:
            return "record that must be critical sent without the critical bit";
        case RecordError::OddListLength:
            return "protocol or algorithm list of odd length";
        case RecordError::BadCodeLength:
            return "Error or Warning body not 2 octets";
        case RecordError::BadPortLength:
            return "Port Negotiation body not 2 octets";
        case RecordError::EmptyCookie:
            return "empty cookie";
        case RecordError::BadServerName:
            return "Server Negotiation body not a host name or IP address";
        case RecordError::UnrecognizedCritical:
            return "unrecognized critical record";
        case RecordError::BadFixedKeyLength:
            return "Fixed Key Request body not two keys of the AEAD's length";
        case RecordError::BadAuthenticationToken:
            return "Authentication body not 1-256 octets of printable ASCII";
        case RecordError::BadAlgorithmList:
            return "Supported Algorithm List not whole (AEAD id, key length) pairs";
        case RecordError::BadDeniedServer:
            return "NTP Server Deny body not a host name or IP address";
    }
    return "unknown record error";
}

std::string_view record_type_name(uint16_t type) {
    switch (static_cast<RecordType>(type)) {
        case RecordType::EndOfMessage:
            return "End of Message";
        case RecordType::NextProtocol:
            return "NTS Next Protocol Negotiation";
        case RecordType::Error:
            return "Error";
        case RecordType::Warning:
            return "Warning";
        case RecordType::AeadAlgorithm:
            return "AEAD Algorithm Negotiation";
        case RecordType::NewCookie:
            return "New Cookie for NTPv4";
        case RecordType::NtpServer:
            return "NTPv4 Server Negotiation";
        case RecordType::NtpPort:
            return "NTPv4 Port Negotiation";
    }
    if (const PoolCodepoint* pool = pool_codepoint(type)) return pool->name;
    return "unknown";
}

bool valid_server_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxServerNameLength) return false;
    if (name.find(':') != std::string_view::npos) {
        return nanotime::ntp::IpAddress::parse(name).has_value();  // IPv6 literal
    }
    return valid_host_name(name);
}

std::optional<RecordError> validate_record(const Record& record) {
    const size_t length = record.body.size();
    switch (static_cast<RecordType>(record.type)) {
        case RecordType::EndOfMessage:
            if (!record.critical) return RecordError::CriticalBitMissing;
            if (length != 0) return RecordError::EndOfMessageNotEmpty;
            return std::nullopt;
        case RecordType::NextProtocol:
            if (!record.critical) return RecordError::CriticalBitMissing;
            if (length % 2 != 0) return RecordError::OddListLength;
            return std::nullopt;
        case RecordType::Error:
        case RecordType::Warning:
            if (!record.critical) return RecordError::CriticalBitMissing;
            if (length != 2) return RecordError::BadCodeLength;
            return std::nullopt;
        case RecordType::AeadAlgorithm:
            if (length % 2 != 0) return RecordError::OddListLength;
            return std::nullopt;
        case RecordType::NewCookie:
            if (length == 0) return RecordError::EmptyCookie;
            return std::nullopt;
        case RecordType::NtpServer:
            if (!valid_server_name(read_text(record.body))) return RecordError::BadServerName;
            return std::nullopt;
        case RecordType::NtpPort:
            if (length != 2) return RecordError::BadPortLength;
            return std::nullopt;
    }
    if (is_pool_record(record.type)) return validate_pool_record(record);
    if (record.critical) return RecordError::UnrecognizedCritical;
    return std::nullopt;
}

std::vector<uint16_t> read_u16_list(std::span<const uint8_t> body) {
    std::vector<uint16_t> ids;
    ids.reserve(body.size() / 2);
    for (size_t i = 0; i + 1 < body.size(); i += 2) ids.push_back(load_u16(&body[i]));
    return ids;
}

uint16_t read_u16(std::span<const uint8_t> body) {
    return body.size() >= 2 ? load_u16(body.data()) : 0;
}

std::string_view read_text(std::span<const uint8_t> body) {
    return {reinterpret_cast<const char*>(body.data()), body.size()};
}

void RecordDecoder::feed(std::span<const uint8_t> bytes) {
    if (end_of_message_) {
        trailing_ += bytes.size();
        const size_t room = max_message_bytes_ - std::min(buffer_.size(), max_message_bytes_);
        const size_t take = std::min(room, bytes.size());
        if (take < bytes.size()) rest_overflow_ = true;
        buffer_.insert(buffer_.end(), bytes.begin(),
                       bytes.begin() + static_cast<std::ptrdiff_t>(take));
        return;
    }
    if (error_ || overflow_) return;
    const size_t room = max_message_bytes_ - std::min(received_, max_message_bytes_);
    const size_t take = std::min(room, bytes.size());
    if (take < bytes.size()) overflow_ = true;
    // Drop what earlier records used before growing, so the buffer holds at
    // most the limit however the message is chunked.
    if (offset_ > 0 && offset_ >= buffer_.size() / 2) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
        offset_ = 0;
    }
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    received_ += take;
}

Result<std::optional<Record>, RecordError> RecordDecoder::next() {
    using nanotime::ntp::unexpected;
    if (error_) return unexpected(*error_);
    if (end_of_message_) return std::optional<Record>{};
    const size_t available = buffer_.size() - offset_;
    // Octets of the message before the record at offset_.
    const size_t position = received_ - available;
    if (available >= kRecordHeaderLength) {
        const uint8_t* header = buffer_.data() + offset_;
        const size_t body_length = load_u16(header + 2);
        // A record that cannot end within the limit is refused before its
        // body arrives.
        if (position + kRecordHeaderLength + body_length > max_message_bytes_) {
            error_ = RecordError::MessageTooLong;
            return unexpected(*error_);
        }
        if (available >= kRecordHeaderLength + body_length) {
            Record record;
            const uint16_t word = load_u16(header);
            record.critical = (word & kCriticalBit) != 0;
            record.type = word & kRecordTypeMask;
            const uint8_t* body = header + kRecordHeaderLength;
            record.body.assign(body, body + body_length);
            offset_ += kRecordHeaderLength + body_length;
            if (const auto bad = validate_record(record)) {
                error_ = *bad;
                return unexpected(*error_);
            }
            if (record.is(RecordType::EndOfMessage)) {
                end_of_message_ = true;
                trailing_ += buffer_.size() - offset_;
                received_ -= buffer_.size() - offset_;
                // Keep what follows for restart(); free the rest.
                buffer_.erase(buffer_.begin(),
                              buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
                if (buffer_.empty()) buffer_.shrink_to_fit();
                offset_ = 0;
                rest_overflow_ = overflow_;
            }
            return std::optional<Record>{std::move(record)};
        }
    } else if (position + kRecordHeaderLength > max_message_bytes_) {
        error_ = RecordError::MessageTooLong;
        return unexpected(*error_);
    }
    if (overflow_) {
        error_ = RecordError::MessageTooLong;
        return unexpected(*error_);
    }
    return std::optional<Record>{};
}

void RecordDecoder::restart() {
    if (!end_of_message_) return;
    end_of_message_ = false;
    received_ = buffer_.size();
    trailing_ = 0;
    overflow_ = rest_overflow_;
    rest_overflow_ = false;
}

bool append_record(std::vector<uint8_t>& out, bool critical, uint16_t type,
                   std::span<const uint8_t> body) {
    if (body.size() > kMaxRecordBodyLength || type > kRecordTypeMask) return false;
    store_u16(out, static_cast<uint16_t>(type | (critical ? kCriticalBit : 0)));
    store_u16(out, static_cast<uint16_t>(body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return true;
}

namespace {

bool append_u16_list(std::vector<uint8_t>& out, bool critical, RecordType type,
                     std::span<const uint16_t> ids) {
    std::vector<uint8_t> body;
    body.reserve(ids.size() * 2);
    for (const uint16_t id : ids) store_u16(body, id);
    return append_record(out, critical, static_cast<uint16_t>(type), body);
}

void append_u16(std::vector<uint8_t>& out, bool critical, RecordType type, uint16_t value) {
    const uint8_t body[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value & 0xff)};
    // Two octets always fit.
    static_cast<void>(append_record(out, critical, static_cast<uint16_t>(type), body));
}

}  // namespace

void append_end_of_message(std::vector<uint8_t>& out) {
    static_cast<void>(
        append_record(out, true, static_cast<uint16_t>(RecordType::EndOfMessage), {}));
}

bool append_next_protocol(std::vector<uint8_t>& out, std::span<const uint16_t> protocols) {
    return append_u16_list(out, true, RecordType::NextProtocol, protocols);
}

void append_error(std::vector<uint8_t>& out, KeErrorCode code) {
    append_u16(out, true, RecordType::Error, static_cast<uint16_t>(code));
}

void append_warning(std::vector<uint8_t>& out, uint16_t code) {
    append_u16(out, true, RecordType::Warning, code);
}

bool append_aead_algorithms(std::vector<uint8_t>& out, bool critical,
                            std::span<const uint16_t> algorithms) {
    return append_u16_list(out, critical, RecordType::AeadAlgorithm, algorithms);
}

bool append_new_cookie(std::vector<uint8_t>& out, std::span<const uint8_t> cookie) {
    if (cookie.empty()) return false;
    return append_record(out, false, static_cast<uint16_t>(RecordType::NewCookie), cookie);
}

bool append_ntp_server(std::vector<uint8_t>& out, bool critical, std::string_view name) {
    if (!valid_server_name(name)) return false;
    const auto* text = reinterpret_cast<const uint8_t*>(name.data());
    return append_record(out, critical, static_cast<uint16_t>(RecordType::NtpServer),
                         std::span<const uint8_t>(text, name.size()));
}

void append_ntp_port(std::vector<uint8_t>& out, bool critical, uint16_t port) {
    append_u16(out, critical, RecordType::NtpPort, port);
}

}  // namespace nts
