// key_store.cpp - master key rotation and the key file's text form (see
// key_store.hpp).
#include "nts/key_store.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <span>

namespace nts {
namespace {

constexpr std::string_view kMagic = "nanotime-nts-keys";
constexpr int64_t kMinInterval = 60;       // seconds
constexpr int64_t kMaxInterval = 604800;   // one week
constexpr uint32_t kMaxPreviousKeys = 16;  // keeps the set under kMaxStoredKeys

// The line's whitespace-separated words; at most @max, the rest ignored
// but counted so that "too many words" is visible.
struct Words {
    std::array<std::string_view, 5> word{};
    size_t count = 0;
};

Words split(std::string_view line) {
    Words words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i == line.size()) break;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (words.count < words.word.size())
            words.word[words.count] = line.substr(start, i - start);
        ++words.count;
    }
    return words;
}

template <typename T>
bool parse_decimal(std::string_view text, T min, T max, T& out) {
    if (text.empty() || text[0] == '+' || text[0] == '-') return false;
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return false;
    if (value < min || value > max) return false;
    out = value;
    return true;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_hex(std::string_view text, std::span<uint8_t> out) {
    if (text.size() != out.size() * 2) return false;
    for (size_t i = 0; i < out.size(); ++i) {
        const int high = hex_digit(text[2 * i]);
        const int low = hex_digit(text[2 * i + 1]);
        if (high < 0 || low < 0) return false;
        out[i] = static_cast<uint8_t>(high << 4 | low);
    }
    return true;
}

void append_hex(std::string& out, std::span<const uint8_t> bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (uint8_t b : bytes) {
        out += kDigits[b >> 4];
        out += kDigits[b & 15];
    }
}

}  // namespace

const char* to_string(KeyFileErrorKind kind) {
    switch (kind) {
        case KeyFileErrorKind::MissingMagic:
            return "not an NTS key file (first line must be \"nanotime-nts-keys 1\")";
        case KeyFileErrorKind::UnsupportedVersion:
            return "unsupported key file version";
        case KeyFileErrorKind::UnknownItem:
            return "unknown item or wrong number of words";
        case KeyFileErrorKind::BadNumber:
            return "bad number or out of range";
        case KeyFileErrorKind::BadId:
            return "key id must be 8 hex digits";
        case KeyFileErrorKind::BadKey:
            return "key must be 64 hex digits";
        case KeyFileErrorKind::DuplicateId:
            return "duplicate key id";
        case KeyFileErrorKind::DuplicateSetting:
            return "setting given twice";
        case KeyFileErrorKind::MissingSetting:
            return "rotation-interval or previous-keys missing";
        case KeyFileErrorKind::NoKeys:
            return "no keys";
        case KeyFileErrorKind::TooManyKeys:
            return "too many keys";
    }
    return "unknown key file error";
}

bool valid_policy(const KeyPolicy& policy) {
    return policy.rotation_interval >= kMinInterval && policy.rotation_interval <= kMaxInterval &&
           policy.previous_keys <= kMaxPreviousKeys;
}

bool KeyStore::opens_at(const MasterKey& key, int64_t now) const {
    const int64_t interval = policy_.rotation_interval;
    return now >= key.activation - interval &&
           now < key.activation + (static_cast<int64_t>(policy_.previous_keys) + 1) * interval;
}

void KeyStore::add_key(int64_t activation, RandomSource& random) {
    MasterKey key;
    key.activation = activation;
    do {
        key.id = static_cast<uint32_t>(random.next_u64());
    } while (std::any_of(keys_.begin(), keys_.end(),
                         [&](const MasterKey& k) { return k.id == key.id; }));
    for (size_t i = 0; i < key.key.size(); i += 8) {
        const uint64_t bits = random.next_u64();
        std::memcpy(key.key.data() + i, &bits, sizeof bits);
    }
    keys_.push_back(key);
}

bool KeyStore::rotate(int64_t now, RandomSource& random) {
    const size_t before = keys_.size();
    // Keys that no longer open cookies, and keys of a reader's future (a
    // clock that went backwards): the writer starts afresh from now.
    std::erase_if(keys_, [&](const MasterKey& k) { return !opens_at(k, now); });
    bool changed = keys_.size() != before;
    if (keys_.empty()) {
        add_key(now, random);
        changed = true;
    }
    while (keys_.back().activation <= now) {
        add_key(keys_.back().activation + policy_.rotation_interval, random);
        changed = true;
    }
    return changed;
}

int64_t KeyStore::next_rotation(int64_t now) const {
    int64_t next = now + policy_.rotation_interval;
    for (const MasterKey& k : keys_) {
        if (k.activation > now) next = std::min(next, k.activation);
    }
    return next;
}

const MasterKey* KeyStore::sealing_key(int64_t now) const {
    const MasterKey* best = nullptr;
    for (const MasterKey& k : keys_) {
        if (k.activation <= now && opens_at(k, now) &&
            (best == nullptr || k.activation > best->activation)) {
            best = &k;
        }
    }
    return best;
}

const MasterKey* KeyStore::opening_key(uint32_t id, int64_t now) const {
    for (const MasterKey& k : keys_) {
        if (k.id == id) return opens_at(k, now) ? &k : nullptr;
    }
    return nullptr;
}

std::string KeyStore::encode() const {
    std::string out;
    out += "nanotime-nts-keys 1\n";
    out += "# NTS master keys: secret, keep mode 0600 (daemon/nts/README.md)\n";
    out += "rotation-interval " + std::to_string(policy_.rotation_interval) + "\n";
    out += "previous-keys " + std::to_string(policy_.previous_keys) + "\n";
    for (const MasterKey& k : keys_) {
        out += "key ";
        const uint8_t id[4] = {static_cast<uint8_t>(k.id >> 24), static_cast<uint8_t>(k.id >> 16),
                               static_cast<uint8_t>(k.id >> 8), static_cast<uint8_t>(k.id)};
        append_hex(out, id);
        out += " " + std::to_string(k.activation) + " ";
        append_hex(out, k.key);
        out += "\n";
    }
    return out;
}

Result<KeyStore, KeyFileError> KeyStore::decode(std::string_view text) {
    KeyStore store;
    bool magic = false, have_interval = false, have_previous = false;
    size_t number = 0;
    auto fail = [&](KeyFileErrorKind kind) { return unexpected(KeyFileError{kind, number}); };
    while (!text.empty()) {
        ++number;
        const size_t end = std::min(text.find('\n'), text.size());
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        const Words w = split(line);
        if (w.count == 0 || w.word[0][0] == '#') {
            if (!magic) return fail(KeyFileErrorKind::MissingMagic);
            continue;
        }
        if (!magic) {
            if (w.count != 2 || w.word[0] != kMagic) return fail(KeyFileErrorKind::MissingMagic);
            if (w.word[1] != "1") return fail(KeyFileErrorKind::UnsupportedVersion);
            magic = true;
        } else if (w.word[0] == "rotation-interval" && w.count == 2) {
            if (have_interval) return fail(KeyFileErrorKind::DuplicateSetting);
            if (!parse_decimal(w.word[1], kMinInterval, kMaxInterval,
                               store.policy_.rotation_interval)) {
                return fail(KeyFileErrorKind::BadNumber);
            }
            have_interval = true;
        } else if (w.word[0] == "previous-keys" && w.count == 2) {
            if (have_previous) return fail(KeyFileErrorKind::DuplicateSetting);
            if (!parse_decimal(w.word[1], uint32_t{0}, kMaxPreviousKeys,
                               store.policy_.previous_keys)) {
                return fail(KeyFileErrorKind::BadNumber);
            }
            have_previous = true;
        } else if (w.word[0] == "key" && w.count == 4) {
            MasterKey key;
            uint8_t id[4];
            if (!parse_hex(w.word[1], id)) return fail(KeyFileErrorKind::BadId);
            key.id = static_cast<uint32_t>(id[0]) << 24 | static_cast<uint32_t>(id[1]) << 16 |
                     static_cast<uint32_t>(id[2]) << 8 | id[3];
            if (!parse_decimal(w.word[2], int64_t{0}, int64_t{1} << 40, key.activation)) {
                return fail(KeyFileErrorKind::BadNumber);
            }
            if (!parse_hex(w.word[3], key.key)) return fail(KeyFileErrorKind::BadKey);
            if (store.keys_.size() == kMaxStoredKeys) return fail(KeyFileErrorKind::TooManyKeys);
            for (const MasterKey& k : store.keys_) {
                if (k.id == key.id) return fail(KeyFileErrorKind::DuplicateId);
            }
            store.keys_.push_back(key);
        } else {
            return fail(KeyFileErrorKind::UnknownItem);
        }
    }
    number = 0;
    if (!magic) return fail(KeyFileErrorKind::MissingMagic);
    if (!have_interval || !have_previous) return fail(KeyFileErrorKind::MissingSetting);
    if (store.keys_.empty()) return fail(KeyFileErrorKind::NoKeys);
    std::stable_sort(
        store.keys_.begin(), store.keys_.end(),
        [](const MasterKey& a, const MasterKey& b) { return a.activation < b.activation; });
    return store;
}

}  // namespace nts
