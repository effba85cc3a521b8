// key_store.hpp - the server's NTS master keys: which key seals new cookies,
// which keys still open old ones, rotation, and the key file's text form.
//
// Sans-IO: rotation is driven by the `now` (Unix seconds) the caller passes
// and randomness comes from the caller's RandomSource (the daemon's is
// getrandom, util/kernel_random.hpp). Reading and writing the file is
// key_store_file.hpp.
//
// Every key has a 32-bit id and an activation time. With rotation interval I
// and P previous keys kept:
//   * key k seals new cookies during [activation, activation + I),
//   * and opens cookies during [activation - I, activation + (P + 1) I):
//     from one interval before it seals (the writer keeps the NEXT key in the
//     set, so a server that reloads the file up to one rotation late already
//     holds the key fresh cookies were sealed with) until P intervals after
//     it stopped sealing (default P = 3, I = 1 h: a cookie opens for 3-4 h).
// Who picks the sealing key is the reader's clock, not the writer's: hosts
// that share one file agree without talking to each other.
//
// Key file (ASCII text, one item per line, '#' starts a comment line):
//   nanotime-nts-keys 1              magic and format version, first line
//   rotation-interval <seconds>      I, 60 .. 604800
//   previous-keys <count>            P, 0 .. 16
//   key <id> <activation> <key>      1 .. 32 lines: id 8 hex digits,
//                                    activation decimal Unix seconds >= 0,
//                                    key 64 hex digits (32 octets)
// Ids are unique. Anything else (unknown word, extra token, bad digit, a
// blank line is fine) is an error naming the line; a file with an error
// changes nothing.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/random.hpp"
#include "util/result.hpp"

namespace nts {

using nanotime::ntp::RandomSource;
using nanotime::ntp::Result;
using nanotime::ntp::unexpected;

inline constexpr size_t kMasterKeyLength = 32;  // octets (AES-SIV-CMAC-256)
inline constexpr size_t kMaxStoredKeys = 32;    // per key file

struct MasterKey {
    uint32_t id = 0;
    int64_t activation = 0;  // Unix seconds: starts sealing cookies
    std::array<uint8_t, kMasterKeyLength> key{};

    friend bool operator==(const MasterKey&, const MasterKey&) = default;
};

struct KeyPolicy {
    int64_t rotation_interval = 3600;  // seconds, I
    uint32_t previous_keys = 3;        // P

    friend bool operator==(const KeyPolicy&, const KeyPolicy&) = default;
};

enum class KeyFileErrorKind : uint8_t {
    MissingMagic,        // first line is not "nanotime-nts-keys 1"
    UnsupportedVersion,  // magic with another version
    UnknownItem,         // a line that is none of the items
    BadNumber,           // not a decimal number, or out of range
    BadId,               // id not 8 hex digits
    BadKey,              // key not 64 hex digits
    DuplicateId,         // two keys with one id
    DuplicateSetting,    // rotation-interval or previous-keys twice
    MissingSetting,      // rotation-interval or previous-keys absent
    NoKeys,              // not a single key
    TooManyKeys,         // more than kMaxStoredKeys
};

struct KeyFileError {
    KeyFileErrorKind kind = KeyFileErrorKind::MissingMagic;
    size_t line = 0;  // 1-based; 0 when the error is about the whole file
};
const char* to_string(KeyFileErrorKind kind);

// A policy nanotimed accepts (the key file limits above).
bool valid_policy(const KeyPolicy& policy);

class KeyStore {
  public:
    explicit KeyStore(KeyPolicy policy = {}) : policy_(policy) {}

    // The writer's step: drops keys that no longer open cookies, makes sure
    // the set holds the key sealing at @now and the next one, generating
    // fresh keys from @random. Returns true when the set changed (save it).
    bool rotate(int64_t now, RandomSource& random);
    // When rotate() next has work to do (Unix seconds).
    int64_t next_rotation(int64_t now) const;

    // The key to seal new cookies with at @now: the latest activated one
    // that still opens cookies; nullptr if there is none (a reader whose
    // file is stale by more than P intervals, or an empty store).
    const MasterKey* sealing_key(int64_t now) const;
    // The key @id if it opens cookies at @now, else nullptr.
    const MasterKey* opening_key(uint32_t id, int64_t now) const;

    const std::vector<MasterKey>& keys() const { return keys_; }
    const KeyPolicy& policy() const { return policy_; }

    // The key file text (format above), and back. decode() is total.
    std::string encode() const;
    static Result<KeyStore, KeyFileError> decode(std::string_view text);

    friend bool operator==(const KeyStore&, const KeyStore&) = default;

  private:
    bool opens_at(const MasterKey& key, int64_t now) const;
    void add_key(int64_t activation, RandomSource& random);

    KeyPolicy policy_;
    std::vector<MasterKey> keys_;  // ascending activation
};

}  // namespace nts
