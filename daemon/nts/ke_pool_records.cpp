// ke_pool_records.cpp - the NTS pool records: body rules, readers, encoders
// (see ke_pool_records.hpp).
#include "nts/ke_pool_records.hpp"

#include <algorithm>

namespace nts {

namespace {

using nanotime::ntp::unexpected;

uint16_t load_u16(const uint8_t* p) {
    return static_cast<uint16_t>((static_cast<unsigned>(p[0]) << 8) | p[1]);
}

void store_u16(std::vector<uint8_t>& out, uint16_t value) {
    out.push_back(static_cast<uint8_t>(value >> 8));
    out.push_back(static_cast<uint8_t>(value & 0xff));
}

constexpr uint16_t code(PoolRecordType t) {
    return static_cast<uint16_t>(t);
}

bool critical_of(PoolRecordType t) {
    return pool_codepoint(code(t))->critical;
}

std::span<const uint8_t> text_bytes(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace

const PoolCodepoint* pool_codepoint(uint16_t type) {
    const auto* it = std::find_if(std::begin(kPoolCodepoints), std::end(kPoolCodepoints),
                                  [type](const PoolCodepoint& c) { return code(c.type) == type; });
    return it == std::end(kPoolCodepoints) ? nullptr : it;
}

bool is_pool_record(uint16_t type) {
    return pool_codepoint(type) != nullptr;
}

bool valid_authentication_token(std::string_view token) {
    if (token.empty() || token.size() > kMaxAuthenticationTokenLength) return false;
    return std::all_of(token.begin(), token.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

std::optional<RecordError> validate_pool_record(const Record& record) {
    const size_t length = record.body.size();
    switch (static_cast<PoolRecordType>(record.type)) {
        case PoolRecordType::KeepAlive:
            return std::nullopt;  // a body is ignored (draft: "SHOULD ignore any body")
        case PoolRecordType::SupportedNextProtocolList:
        case PoolRecordType::SupportedAlgorithmList:
            // The body's shape depends on the direction (a request's is
            // ignored): read_supported_*() check responses.
            if (!record.critical) return RecordError::CriticalBitMissing;
            return std::nullopt;
        case PoolRecordType::FixedKeyRequest:
            if (!record.critical) return RecordError::CriticalBitMissing;
            if (length == 0 || length % 2 != 0) return RecordError::BadFixedKeyLength;
            return std::nullopt;
        case PoolRecordType::NtpServerDeny:
            if (!valid_server_name(read_text(record.body))) return RecordError::BadDeniedServer;
            return std::nullopt;
        case PoolRecordType::Authentication:
            if (!valid_authentication_token(read_text(record.body)))
                return RecordError::BadAuthenticationToken;
            return std::nullopt;
    }
    return record.critical ? std::optional<RecordError>(RecordError::UnrecognizedCritical)
                           : std::nullopt;
}

Result<std::vector<uint16_t>, RecordError> read_supported_protocols(std::span<const uint8_t> body) {
    if (body.size() % 2 != 0) return unexpected(RecordError::OddListLength);
    return read_u16_list(body);
}

Result<std::vector<AlgorithmDescription>, RecordError> read_supported_algorithms(
    std::span<const uint8_t> body) {
    if (body.size() % 4 != 0) return unexpected(RecordError::BadAlgorithmList);
    std::vector<AlgorithmDescription> list;
    list.reserve(body.size() / 4);
    for (size_t i = 0; i < body.size(); i += 4) {
        const AlgorithmDescription d{load_u16(&body[i]), load_u16(&body[i + 2])};
        if (d.key_length == 0) return unexpected(RecordError::BadAlgorithmList);
        list.push_back(d);
    }
    return list;
}

Result<std::pair<std::span<const uint8_t>, std::span<const uint8_t>>, RecordError> split_fixed_key(
    std::span<const uint8_t> body, size_t key_length) {
    if (key_length == 0 || body.size() != 2 * key_length)
        return unexpected(RecordError::BadFixedKeyLength);
    return std::pair{body.first(key_length), body.subspan(key_length)};
}

void append_keep_alive(std::vector<uint8_t>& out) {
    static_cast<void>(append_record(out, critical_of(PoolRecordType::KeepAlive),
                                    code(PoolRecordType::KeepAlive), {}));
}

bool append_supported_protocols(std::vector<uint8_t>& out, std::span<const uint16_t> protocols) {
    std::vector<uint8_t> body;
    body.reserve(protocols.size() * 2);
    for (const uint16_t p : protocols) store_u16(body, p);
    return append_record(out, critical_of(PoolRecordType::SupportedNextProtocolList),
                         code(PoolRecordType::SupportedNextProtocolList), body);
}

bool append_supported_algorithms(std::vector<uint8_t>& out,
                                 std::span<const AlgorithmDescription> algorithms) {
    std::vector<uint8_t> body;
    body.reserve(algorithms.size() * 4);
    for (const AlgorithmDescription& a : algorithms) {
        if (a.key_length == 0) return false;
        store_u16(body, a.aead);
        store_u16(body, a.key_length);
    }
    return append_record(out, critical_of(PoolRecordType::SupportedAlgorithmList),
                         code(PoolRecordType::SupportedAlgorithmList), body);
}

bool append_fixed_key_request(std::vector<uint8_t>& out, std::span<const uint8_t> c2s,
                              std::span<const uint8_t> s2c) {
    if (c2s.empty() || c2s.size() != s2c.size()) return false;
    std::vector<uint8_t> body(c2s.begin(), c2s.end());
    body.insert(body.end(), s2c.begin(), s2c.end());
    return append_record(out, critical_of(PoolRecordType::FixedKeyRequest),
                         code(PoolRecordType::FixedKeyRequest), body);
}

bool append_ntp_server_deny(std::vector<uint8_t>& out, std::string_view name) {
    if (!valid_server_name(name)) return false;
    return append_record(out, critical_of(PoolRecordType::NtpServerDeny),
                         code(PoolRecordType::NtpServerDeny), text_bytes(name));
}

bool append_authentication(std::vector<uint8_t>& out, std::string_view token) {
    if (!valid_authentication_token(token)) return false;
    return append_record(out, critical_of(PoolRecordType::Authentication),
                         code(PoolRecordType::Authentication), text_bytes(token));
}

}  // namespace nts
