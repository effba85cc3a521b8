// broker_store.cpp - the broker's SQLite state (broker_store.hpp).
#include "broker/broker_store.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace nanotime::broker {
namespace {

constexpr size_t kSecretBytes = 32;  // 256 random bits per token
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr std::string_view kTokenPrefix = "nt1.";

// The schema, idempotent. The audit table refuses UPDATE and DELETE.
constexpr const char* kSchema = R"sql(
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    scrypt_n INTEGER NOT NULL, scrypt_r INTEGER NOT NULL, scrypt_p INTEGER NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER,
    revoked INTEGER,
    created_by TEXT NOT NULL,
    last_used INTEGER
);
CREATE TABLE IF NOT EXISTS certificates (
    fingerprint TEXT PRIMARY KEY,
    serial TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    issued INTEGER NOT NULL,
    issued_by TEXT NOT NULL,
    revoked INTEGER
);
CREATE TABLE IF NOT EXISTS members (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    version TEXT NOT NULL,
    roles TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    state_time INTEGER,
    state_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    status INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
    throw std::runtime_error("broker database: " + std::string(what) + ": " +
                             (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// One prepared statement; binds by position (1-based), finalised on scope exit.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail(db, sql);
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int i, int64_t v) {
        check(sqlite3_bind_int64(stmt_, i, v));
        return *this;
    }
    Statement& bind(int i, std::string_view v) {
        check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    Statement& bind(int i, std::span<const uint8_t> v) {
        check(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    Statement& bind(int i, std::optional<int64_t> v) {
        check(v ? sqlite3_bind_int64(stmt_, i, *v) : sqlite3_bind_null(stmt_, i));
        return *this;
    }
    // True while a row is there.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(db_, "step");
    }
    void run() {
        while (step()) {
        }
    }
    // Ready to bind and run again (the bindings are replaced one by one).
    void reset() { sqlite3_reset(stmt_); }
    int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
    std::optional<int64_t> optional(int col) const {
        if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
        return integer(col);
    }
    std::string text(int col) const {
        const auto* p = sqlite3_column_text(stmt_, col);
        return p != nullptr ? std::string(reinterpret_cast<const char*>(p),
                                          static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
                            : std::string();
    }
    std::vector<uint8_t> blob(int col) const {
        const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
        return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col));
    }

  private:
    void check(int rc) const {
        if (rc != SQLITE_OK) fail(db_, "bind");
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        const std::string why = message != nullptr ? message : "unknown error";
        sqlite3_free(message);
        throw std::runtime_error("broker database: " + why);
    }
}

std::vector<uint8_t> random_bytes(size_t n) {
    std::vector<uint8_t> out(n);
    size_t got = 0;
    while (got < n) {
        const ssize_t r = getrandom(out.data() + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<size_t>(r);
    }
    return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 15]);
    }
    return out;
}

Role role_column(const std::string& text) {
    return role_from_string(text).value_or(Role::Monitor);
}

TokenInfo token_row(const Statement& s) {
    TokenInfo t;
    t.id = s.integer(0);
    t.name = s.text(1);
    t.role = role_column(s.text(2));
    t.created = s.integer(3);
    t.expires = s.optional(4);
    t.revoked = s.optional(5);
    t.created_by = s.text(6);
    t.last_used = s.optional(7);
    return t;
}
constexpr const char* kTokenColumns =
    "SELECT id, name, role, created, expires, revoked, created_by, last_used FROM tokens";

CertificateInfo certificate_row(const Statement& s) {
    CertificateInfo c;
    c.fingerprint = s.text(0);
    c.serial = s.text(1);
    c.name = s.text(2);
    c.role = role_from_string(s.text(3)).value_or(Role::Member);
    c.not_before = s.integer(4);
    c.not_after = s.integer(5);
    c.issued = s.integer(6);
    c.issued_by = s.text(7);
    c.revoked = s.optional(8);
    return c;
}
constexpr const char* kCertificateColumns =
    "SELECT fingerprint, serial, name, role, not_before, not_after, issued, issued_by, revoked "
    "FROM certificates";

MemberInfo member_row(const Statement& s) {
    MemberInfo m;
    m.name = s.text(0);
    m.host = s.text(1);
    m.version = s.text(2);
    m.roles_json = s.text(3);
    m.first_seen = s.integer(4);
    m.last_seen = s.integer(5);
    m.state_json = s.text(6);
    m.state_time = s.optional(7);
    m.state_seq = static_cast<uint64_t>(s.integer(8));
    return m;
}
constexpr const char* kMemberColumns =
    "SELECT name, host, version, roles, first_seen, last_seen, state, state_time, state_seq "
    "FROM members";

// "nt1.<id>.<64 hex digits>" → id and secret, or nothing.
std::optional<std::pair<int64_t, std::string_view>> split_token(std::string_view token) {
    if (!token.starts_with(kTokenPrefix)) return std::nullopt;
    token.remove_prefix(kTokenPrefix.size());
    const size_t dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 18) return std::nullopt;
    int64_t id = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + dot, id);
    if (ec != std::errc() || end != token.data() + dot || id <= 0) return std::nullopt;
    const std::string_view secret = token.substr(dot + 1);
    if (secret.size() != kSecretBytes * 2) return std::nullopt;
    return std::make_pair(id, secret);
}

}  // namespace

std::vector<uint8_t> hash_token_secret(std::string_view secret, std::span<const uint8_t> salt,
                                       const ScryptCost& cost) {
    std::vector<uint8_t> out(kHashBytes);
    // 64 MiB bound: N = 2^14, r = 8 needs 16 MiB (128 * r * N bytes).
    constexpr uint64_t kMaxMemory = uint64_t{64} << 20;
    if (EVP_PBE_scrypt(secret.data(), secret.size(), salt.data(), salt.size(), cost.n, cost.r,
                       cost.p, kMaxMemory, out.data(), out.size()) != 1) {
        throw std::runtime_error("broker: scrypt failed (parameters out of range?)");
    }
    return out;
}

BrokerStore::BrokerStore(const std::string& path, ScryptCost cost) : cost_(cost) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw std::runtime_error("broker database " + path + ": " + why);
    }
    try {
        // Another process (the bootstrap command) may hold the lock briefly.
        sqlite3_busy_timeout(db_, 5000);
        exec(db_, "PRAGMA journal_mode = WAL;");
        exec(db_, kSchema);
    } catch (...) {
        sqlite3_close(db_);
        throw;
    }
}

BrokerStore::~BrokerStore() {
    try {
        flush_member_states();
    } catch (const std::exception&) {
        // Nothing to tell it to at exit: the states are the members' to resend.
    }
    sqlite3_close(db_);
}

BrokerStore::NewToken BrokerStore::create_token(std::string_view name, Role role,
                                                std::optional<int64_t> expires,
                                                std::string_view created_by, int64_t now) {
    const std::vector<uint8_t> secret_bytes = random_bytes(kSecretBytes);
    const std::string secret = to_hex(secret_bytes);
    const std::vector<uint8_t> salt = random_bytes(kSaltBytes);
    const std::vector<uint8_t> hash = hash_token_secret(secret, salt, cost_);
    Statement s(db_,
                "INSERT INTO tokens (name, role, salt, hash, scrypt_n, scrypt_r, scrypt_p, "
                "created, expires, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, name).bind(2, to_string(role)).bind(3, std::span<const uint8_t>(salt));
    s.bind(4, std::span<const uint8_t>(hash)).bind(5, static_cast<int64_t>(cost_.n));
    s.bind(6, int64_t{cost_.r}).bind(7, int64_t{cost_.p}).bind(8, now).bind(9, expires);
    s.bind(10, created_by).run();
    NewToken t;
    t.info.id = sqlite3_last_insert_rowid(db_);
    t.info.name = name;
    t.info.role = role;
    t.info.created = now;
    t.info.expires = expires;
    t.info.created_by = created_by;
    t.token = std::string(kTokenPrefix) + std::to_string(t.info.id) + "." + secret;
    return t;
}

std::vector<TokenInfo> BrokerStore::list_tokens() const {
    Statement s(db_, (std::string(kTokenColumns) + " ORDER BY id").c_str());
    std::vector<TokenInfo> out;
    while (s.step()) out.push_back(token_row(s));
    return out;
}

std::optional<TokenInfo> BrokerStore::find_token(int64_t id) const {
    Statement s(db_, (std::string(kTokenColumns) + " WHERE id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return token_row(s);
}

bool BrokerStore::revoke_token(int64_t id, int64_t now) {
    Statement s(db_, "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL");
    s.bind(1, now).bind(2, id).run();
    return sqlite3_changes(db_) == 1;
}

std::optional<TokenInfo> BrokerStore::verify_token(std::string_view bearer, int64_t now) {
    const auto parts = split_token(bearer);
    if (!parts) return std::nullopt;
    Statement s(db_,
                "SELECT id, name, role, created, expires, revoked, created_by, last_used, salt, "
                "hash, scrypt_n, scrypt_r, scrypt_p FROM tokens WHERE id = ?");
    s.bind(1, parts->first);
    if (!s.step()) return std::nullopt;
    TokenInfo t = token_row(s);
    const std::vector<uint8_t> salt = s.blob(8);
    const std::vector<uint8_t> stored = s.blob(9);
    const ScryptCost cost{static_cast<uint64_t>(s.integer(10)),
                          static_cast<uint32_t>(s.integer(11)),
                          static_cast<uint32_t>(s.integer(12))};
    // The hash is computed for a revoked or expired token too: the answer's
    // timing does not tell which tokens exist in which state.
    const std::vector<uint8_t> computed = hash_token_secret(parts->second, salt, cost);
    const bool match = stored.size() == computed.size() &&
                       CRYPTO_memcmp(stored.data(), computed.data(), computed.size()) == 0;
    if (!match || t.revoked || (t.expires && *t.expires <= now)) return std::nullopt;
    Statement used(db_, "UPDATE tokens SET last_used = ? WHERE id = ?");
    used.bind(1, now).bind(2, t.id).run();
    t.last_used = now;
    return t;
}

void BrokerStore::add_certificate(const CertificateInfo& c) {
    Statement s(db_,
                "INSERT INTO certificates (fingerprint, serial, name, role, not_before, "
                "not_after, issued, issued_by, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, c.fingerprint).bind(2, c.serial).bind(3, c.name).bind(4, to_string(c.role));
    s.bind(5, c.not_before).bind(6, c.not_after).bind(7, c.issued).bind(8, c.issued_by);
    s.bind(9, c.revoked).run();
}

std::vector<CertificateInfo> BrokerStore::list_certificates() const {
    Statement s(db_, (std::string(kCertificateColumns) + " ORDER BY issued, name").c_str());
    std::vector<CertificateInfo> out;
    while (s.step()) out.push_back(certificate_row(s));
    return out;
}

std::optional<CertificateInfo> BrokerStore::find_certificate(std::string_view fingerprint) const {
    Statement s(db_, (std::string(kCertificateColumns) + " WHERE fingerprint = ?").c_str());
    s.bind(1, fingerprint);
    if (!s.step()) return std::nullopt;
    return certificate_row(s);
}

bool BrokerStore::revoke_certificate(std::string_view fingerprint, int64_t now) {
    Statement s(db_,
                "UPDATE certificates SET revoked = ? WHERE fingerprint = ? AND revoked IS NULL");
    s.bind(1, now).bind(2, fingerprint).run();
    return sqlite3_changes(db_) == 1;
}

void BrokerStore::member_hello(std::string_view name, std::string_view host,
                               std::string_view version, std::string_view roles_json, int64_t now) {
    Statement s(db_,
                "INSERT INTO members (name, host, version, roles, first_seen, last_seen) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(name) DO UPDATE SET host = ?2, "
                "version = ?3, roles = ?4, last_seen = ?5");
    s.bind(1, name).bind(2, host).bind(3, version).bind(4, roles_json).bind(5, now).run();
}

void BrokerStore::member_state(std::string_view name, uint64_t seq, std::string_view state_json,
                               int64_t now) {
    auto it = pending_states_.find(name);
    if (it == pending_states_.end())
        it = pending_states_.emplace(std::string(name), PendingState{}).first;
    it->second.seq = seq;
    it->second.state_json.assign(state_json);
    it->second.time = now;
}

void BrokerStore::flush_member_states() {
    if (pending_states_.empty()) return;
    exec(db_, "BEGIN");
    try {
        Statement s(db_,
                    "UPDATE members SET state = ?1, state_time = ?2, "
                    "last_seen = max(last_seen, ?2), state_seq = ?3 WHERE name = ?4");
        for (const auto& [name, p] : pending_states_) {
            s.bind(1, p.state_json).bind(2, p.time).bind(3, static_cast<int64_t>(p.seq));
            s.bind(4, name).run();
            s.reset();
        }
        exec(db_, "COMMIT");
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    pending_states_.clear();
}

void BrokerStore::apply_pending(MemberInfo& m, bool with_state) const {
    const auto it = pending_states_.find(m.name);
    if (it == pending_states_.end()) return;
    if (with_state) m.state_json = it->second.state_json;
    m.state_time = it->second.time;
    m.last_seen = std::max(m.last_seen, it->second.time);  // a later hello counts too
    m.state_seq = it->second.seq;
}

std::vector<MemberInfo> BrokerStore::list_members(bool with_state) const {
    Statement s(db_, with_state ? "SELECT name, host, version, roles, first_seen, last_seen, "
                                  "state, state_time, state_seq FROM members ORDER BY name"
                                : "SELECT name, host, version, roles, first_seen, last_seen, "
                                  "'{}', state_time, state_seq FROM members ORDER BY name");
    std::vector<MemberInfo> out;
    while (s.step()) {
        out.push_back(member_row(s));
        apply_pending(out.back(), with_state);
    }
    return out;
}

std::optional<MemberInfo> BrokerStore::find_member(std::string_view name) const {
    Statement s(db_, (std::string(kMemberColumns) + " WHERE name = ?").c_str());
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    MemberInfo m = member_row(s);
    apply_pending(m, true);
    return m;
}

bool BrokerStore::delete_member(std::string_view name) {
    if (const auto it = pending_states_.find(name); it != pending_states_.end())
        pending_states_.erase(it);
    Statement s(db_, "DELETE FROM members WHERE name = ?");
    s.bind(1, name).run();
    return sqlite3_changes(db_) == 1;
}

int64_t BrokerStore::append_audit(const AuditEntry& e) {
    Statement s(db_,
                "INSERT INTO audit (time_ms, actor, source, action, target, result, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.time_ms).bind(2, e.actor).bind(3, e.source).bind(4, e.action);
    s.bind(5, e.target).bind(6, e.result).bind(7, int64_t{e.status}).run();
    return sqlite3_last_insert_rowid(db_);
}

std::vector<AuditEntry> BrokerStore::read_audit(int64_t after, size_t limit) const {
    Statement s(db_,
                "SELECT seq, time_ms, actor, source, action, target, result, status FROM audit "
                "WHERE seq > ? ORDER BY seq LIMIT ?");
    s.bind(1, after).bind(2, static_cast<int64_t>(limit));
    std::vector<AuditEntry> out;
    while (s.step()) {
        AuditEntry e;
        e.seq = s.integer(0);
        e.time_ms = s.integer(1);
        e.actor = s.text(2);
        e.source = s.text(3);
        e.action = s.text(4);
        e.target = s.text(5);
        e.result = s.text(6);
        e.status = static_cast<unsigned>(s.integer(7));
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace nanotime::broker
