// broker_store.hpp - the broker's persistent state in SQLite: fleet
// members with their last-known status, bearer tokens (only their scrypt
// hashes), the client certificates its CA issued (and which are revoked),
// and the append-only audit log. Survives a broker restart; ":memory:"
// gives a private in-memory database (tests).
//
// Time is Unix seconds (audit: milliseconds) supplied by the caller, so
// the store stays deterministic under test. Every method is one SQLite
// transaction (or statement): a failure throws std::runtime_error with
// SQLite's reason and changes nothing.
//
// Thread: one. The broker's service thread owns the store; the bootstrap
// command line (nanotimed --broker-token) opens its own.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/roles.hpp"

struct sqlite3;

namespace nanotime::broker {

struct TokenInfo {
    int64_t id = 0;
    std::string name;  // what the token is for ("alice's laptop")
    Role role = Role::Monitor;
    int64_t created = 0;               // Unix s
    std::optional<int64_t> expires;    // Unix s; none: never
    std::optional<int64_t> revoked;    // Unix s
    std::string created_by;            // actor
    std::optional<int64_t> last_used;  // Unix s
};

struct CertificateInfo {
    std::string fingerprint;  // SHA-256 of the DER, lowercase hex
    std::string serial;       // hex
    std::string name;         // subject CN: the member or operator name
    Role role = Role::Member;
    int64_t not_before = 0;  // Unix s
    int64_t not_after = 0;
    int64_t issued = 0;
    std::string issued_by;
    std::optional<int64_t> revoked;
};

struct MemberInfo {
    std::string name;
    std::string host;
    std::string version;
    std::string roles_json = "[]";  // the hello's roles
    int64_t first_seen = 0;
    int64_t last_seen = 0;          // last message of any kind
    std::string state_json = "{}";  // the last state's data
    std::optional<int64_t> state_time;
    uint64_t state_seq = 0;
};

struct AuditEntry {
    int64_t seq = 0;      // assigned by append_audit
    int64_t time_ms = 0;  // Unix ms
    std::string actor;    // "token:3", "cert:alice", "anonymous"
    std::string source;   // the peer's address
    std::string action;   // "POST /v1/tokens", "relay makestep", "login"
    std::string target;   // what it acted on ("" if nothing)
    std::string result;   // "ok", or "denied: ..." / "failed: ..."
    unsigned status = 0;  // the HTTP status answered
};

// scrypt parameters of the token hashes (RFC 7914): N = 2^14, r = 8, p = 1
// costs 16 MiB and ~50 ms per check, stored per row so they can grow.
struct ScryptCost {
    uint64_t n = uint64_t{1} << 14;
    uint32_t r = 8;
    uint32_t p = 1;
};

class BrokerStore {
  public:
    // Opens (creating if needed) the database at @path and its schema.
    explicit BrokerStore(const std::string& path, ScryptCost cost = {});
    ~BrokerStore();
    BrokerStore(const BrokerStore&) = delete;
    BrokerStore& operator=(const BrokerStore&) = delete;

    // Tokens. The secret is returned once, at creation: "nt1.<id>.<secret>"
    // with 256 random bits, base64url; the store keeps salt + scrypt hash.
    struct NewToken {
        TokenInfo info;
        std::string token;
    };
    NewToken create_token(std::string_view name, Role role, std::optional<int64_t> expires,
                          std::string_view created_by, int64_t now);
    std::vector<TokenInfo> list_tokens() const;
    std::optional<TokenInfo> find_token(int64_t id) const;
    // False if there is no such token or it was revoked already.
    bool revoke_token(int64_t id, int64_t now);
    // The token's row if @bearer is a live token (known, hash matches in
    // constant time, not revoked, not expired at @now); marks it used.
    std::optional<TokenInfo> verify_token(std::string_view bearer, int64_t now);

    // Certificates issued by the broker's CA.
    void add_certificate(const CertificateInfo& certificate);
    std::vector<CertificateInfo> list_certificates() const;
    std::optional<CertificateInfo> find_certificate(std::string_view fingerprint) const;
    bool revoke_certificate(std::string_view fingerprint, int64_t now);

    // Members: registered by the first hello, updated by each state.
    void member_hello(std::string_view name, std::string_view host, std::string_view version,
                      std::string_view roles_json, int64_t now);
    // Written behind: the member's latest state is kept in memory (a newer
    // one replaces it) until flush_member_states() writes every waiting
    // state in one transaction. A state is a snapshot a member replaces
    // every few seconds; one transaction per state message costs the broker
    // a WAL commit (an fsync) each, which 10 000 members at one state per
    // 10 s do not leave time for. The reads below see waiting states; the
    // destructor flushes, so a clean stop loses none (a crash: at most what
    // arrived since the last flush).
    void member_state(std::string_view name, uint64_t seq, std::string_view state_json,
                      int64_t now);
    void flush_member_states();
    size_t pending_member_states() const { return pending_states_.size(); }
    // @with_state false: state_json is left "{}" (the fleet list does not
    // show it, and reading every member's state is most of the work).
    std::vector<MemberInfo> list_members(bool with_state = true) const;
    std::optional<MemberInfo> find_member(std::string_view name) const;
    bool delete_member(std::string_view name);

    // The audit log: appended to, never changed (the schema refuses
    // UPDATE and DELETE). Returns the entry's seq.
    int64_t append_audit(const AuditEntry& entry);
    // Entries with seq > @after, oldest first, at most @limit.
    std::vector<AuditEntry> read_audit(int64_t after, size_t limit) const;

  private:
    struct PendingState {
        uint64_t seq = 0;
        std::string state_json;
        int64_t time = 0;  // Unix s
    };
    // A waiting state over @m (the row as read).
    void apply_pending(MemberInfo& m, bool with_state) const;

    sqlite3* db_ = nullptr;
    ScryptCost cost_;
    std::map<std::string, PendingState, std::less<>> pending_states_;  // member → latest state
};

// The token's hash: scrypt(@secret, @salt) with @cost, 32 bytes. Exposed
// for the tests.
std::vector<uint8_t> hash_token_secret(std::string_view secret, std::span<const uint8_t> salt,
                                       const ScryptCost& cost);

}  // namespace nanotime::broker
