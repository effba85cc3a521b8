// The broker's SQLite store: tokens (hash only, constant-time check,
// revocation, expiry), certificates, members and the append-only audit log,
// in an in-memory database; persistence across a reopen in a file.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "broker/broker_store.hpp"

namespace nanotime::broker {
namespace {

// Cheap scrypt for the tests (the cost is per row; production is N = 2^14).
constexpr ScryptCost kFast{1024, 8, 1};

TEST(BrokerStore, TokenIsVerifiedRevokedAndExpires) {
    BrokerStore store(":memory:", kFast);
    const auto t = store.create_token("alice", Role::Operator, std::nullopt, "bootstrap", 1000);
    EXPECT_EQ(t.token.rfind("nt1." + std::to_string(t.info.id) + ".", 0), 0u);
    EXPECT_EQ(t.token.size(), 4 + std::to_string(t.info.id).size() + 1 + 64) << "256 bits, hex";
    const auto ok = store.verify_token(t.token, 1001);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->name, "alice");
    EXPECT_EQ(ok->role, Role::Operator);
    EXPECT_EQ(ok->last_used, 1001);

    std::string wrong = t.token;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    EXPECT_FALSE(store.verify_token(wrong, 1002)) << "one hex digit off";
    EXPECT_FALSE(store.verify_token("nt1.99." + std::string(64, 'a'), 1002)) << "unknown id";
    EXPECT_FALSE(store.verify_token("garbage", 1002));
    EXPECT_FALSE(store.verify_token("nt1.-1." + std::string(64, 'a'), 1002));
    EXPECT_FALSE(store.verify_token(t.token.substr(0, t.token.size() - 1), 1002)) << "short";

    EXPECT_TRUE(store.revoke_token(t.info.id, 1003));
    EXPECT_FALSE(store.revoke_token(t.info.id, 1004)) << "revoked once";
    EXPECT_FALSE(store.verify_token(t.token, 1005)) << "revoked";
    EXPECT_EQ(store.find_token(t.info.id)->revoked, 1003);

    const auto e = store.create_token("ci", Role::Monitor, 2000, "alice", 1000);
    EXPECT_TRUE(store.verify_token(e.token, 1999));
    EXPECT_FALSE(store.verify_token(e.token, 2000)) << "expired at its time";
    EXPECT_EQ(store.list_tokens().size(), 2u);
}

TEST(BrokerStore, OnlyTheHashIsStored) {
    const std::string path =
        ::testing::TempDir() + "broker-store-hash-" + std::to_string(getpid()) + ".db";
    std::filesystem::remove(path);
    std::string token;
    {
        BrokerStore store(path, kFast);
        token = store.create_token("x", Role::Admin, std::nullopt, "b", 1).token;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT hash, salt FROM tokens", -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_bytes(s, 0), 32);
    EXPECT_EQ(sqlite3_column_bytes(s, 1), 16);
    sqlite3_finalize(s);
    sqlite3_close(db);
    // The secret does not appear anywhere in the file.
    std::string bytes;
    for (const auto& suffix : {"", "-wal"}) {
        std::FILE* f = std::fopen((path + suffix).c_str(), "rb");
        if (f == nullptr) continue;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
        std::fclose(f);
    }
    EXPECT_EQ(bytes.find(token.substr(token.rfind('.') + 1)), std::string::npos);
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
}

TEST(BrokerStore, ScryptMatchesRfc7914Vector) {
    // RFC 7914 §12, second vector: P="password", S="NaCl", N=1024, r=8, p=16.
    const std::string salt = "NaCl";
    const auto h = hash_token_secret(
        "password", {reinterpret_cast<const uint8_t*>(salt.data()), salt.size()}, {1024, 8, 16});
    const uint8_t expect[] = {0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00,
                              0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe};
    EXPECT_TRUE(std::equal(std::begin(expect), std::end(expect), h.begin()));
}

TEST(BrokerStore, Certificates) {
    BrokerStore store(":memory:", kFast);
    CertificateInfo c;
    c.fingerprint = std::string(64, 'a');
    c.serial = "01";
    c.name = "ntp1";
    c.role = Role::Member;
    c.not_before = 10;
    c.not_after = 20;
    c.issued = 10;
    c.issued_by = "token:1";
    store.add_certificate(c);
    EXPECT_THROW(store.add_certificate(c), std::runtime_error) << "fingerprint is unique";
    const auto found = store.find_certificate(c.fingerprint);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->name, "ntp1");
    EXPECT_EQ(found->role, Role::Member);
    EXPECT_FALSE(found->revoked);
    EXPECT_TRUE(store.revoke_certificate(c.fingerprint, 15));
    EXPECT_FALSE(store.revoke_certificate(c.fingerprint, 16));
    EXPECT_EQ(store.find_certificate(c.fingerprint)->revoked, 15);
    EXPECT_FALSE(store.find_certificate(std::string(64, 'b')));
    EXPECT_EQ(store.list_certificates().size(), 1u);
}

TEST(BrokerStore, MembersKeepTheirLastState) {
    BrokerStore store(":memory:", kFast);
    store.member_hello("ntp1", "ntp1.example", "0.9", R"(["server"])", 100);
    store.member_state("ntp1", 7, R"({"status":{"leap":0}})", 105);
    store.member_hello("ntp1", "ntp1.example", "1.0", R"(["server","client"])", 200);
    const auto m = store.find_member("ntp1");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->version, "1.0");
    EXPECT_EQ(m->first_seen, 100);
    EXPECT_EQ(m->last_seen, 200);
    EXPECT_EQ(m->state_json, R"({"status":{"leap":0}})") << "a new hello keeps the last state";
    EXPECT_EQ(m->state_time, 105);
    EXPECT_EQ(m->state_seq, 7u);
    EXPECT_EQ(store.list_members().size(), 1u);
    EXPECT_TRUE(store.delete_member("ntp1"));
    EXPECT_FALSE(store.delete_member("ntp1"));
    EXPECT_FALSE(store.find_member("ntp1"));
}

TEST(BrokerStore, AuditLogIsAppendOnly) {
    BrokerStore store(":memory:", kFast);
    AuditEntry e{0, 1000, "token:1", "127.0.0.1", "POST /v1/tokens", "token:2", "ok", 201};
    EXPECT_EQ(store.append_audit(e), 1);
    e.result = "denied: needs admin";
    e.status = 403;
    EXPECT_EQ(store.append_audit(e), 2);
    const auto all = store.read_audit(0, 10);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[1].result, "denied: needs admin");
    EXPECT_EQ(all[1].status, 403u);
    EXPECT_EQ(store.read_audit(1, 10).size(), 1u);
    EXPECT_EQ(store.read_audit(0, 1).size(), 1u);
}

TEST(BrokerStore, AuditRowsCannotBeChangedEvenWithSql) {
    const std::string path =
        ::testing::TempDir() + "broker-store-audit-" + std::to_string(getpid()) + ".db";
    std::filesystem::remove(path);
    {
        BrokerStore store(path, kFast);
        store.append_audit({0, 1, "a", "s", "x", "", "ok", 200});
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, &err), SQLITE_OK);
    EXPECT_STREQ(err, "the audit log is append-only");
    sqlite3_free(err);
    EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET result = 'x'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    BrokerStore reopened(path, kFast);
    EXPECT_EQ(reopened.read_audit(0, 10).at(0).result, "ok");
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
}

TEST(BrokerStore, SurvivesARestart) {
    const std::string path =
        ::testing::TempDir() + "broker-store-restart-" + std::to_string(getpid()) + ".db";
    std::filesystem::remove(path);
    std::string token;
    {
        BrokerStore store(path, kFast);
        token = store.create_token("ops", Role::Admin, std::nullopt, "bootstrap", 1).token;
        store.member_hello("m", "h", "v", "[]", 1);
        store.append_audit({0, 1, "a", "s", "x", "", "ok", 200});
    }
    BrokerStore store(path, kFast);
    EXPECT_TRUE(store.verify_token(token, 2));
    EXPECT_TRUE(store.find_member("m"));
    EXPECT_EQ(store.read_audit(0, 10).size(), 1u);
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
}

// Member states are written behind (one transaction for many), yet every
// read of this store sees the latest; another connection to the file sees
// them after the flush, and a store that is closed flushes first.
TEST(BrokerStore, MemberStatesAreWrittenBehind) {
    const std::string path =
        ::testing::TempDir() + "broker-store-behind-" + std::to_string(getpid()) + ".db";
    std::filesystem::remove(path);
    {
        BrokerStore store(path, kFast);
        BrokerStore other(path, kFast);  // what the file holds
        store.member_hello("a", "h", "v", "[]", 1);
        store.member_hello("b", "h", "v", "[]", 1);
        store.member_state("a", 1, R"({"status":{"leap":0}})", 5);
        store.member_state("a", 2, R"({"status":{"leap":1}})", 6);
        store.member_state("b", 9, R"({"pps":{}})", 6);
        EXPECT_EQ(store.pending_member_states(), 2u) << "the latest state per member";
        EXPECT_EQ(other.find_member("a")->state_seq, 0u) << "not written yet";
        const auto a = store.find_member("a");
        EXPECT_EQ(a->state_json, R"({"status":{"leap":1}})");
        EXPECT_EQ(a->state_seq, 2u);
        EXPECT_EQ(a->state_time, 6);
        EXPECT_EQ(a->last_seen, 6);
        const auto list = store.list_members(false);
        ASSERT_EQ(list.size(), 2u);
        EXPECT_EQ(list[0].state_seq, 2u);
        EXPECT_EQ(list[0].state_json, "{}") << "the list leaves the states out";
        EXPECT_EQ(list[1].state_seq, 9u);
        EXPECT_EQ(store.list_members()[1].state_json, R"({"pps":{}})");

        store.flush_member_states();
        EXPECT_EQ(store.pending_member_states(), 0u);
        EXPECT_EQ(other.find_member("a")->state_json, R"({"status":{"leap":1}})");
        EXPECT_EQ(other.find_member("b")->state_seq, 9u);

        store.member_state("b", 10, R"({"pps":{"x":1}})", 7);
        EXPECT_TRUE(store.delete_member("a"));
        store.member_state("a", 3, "{}", 7);  // a state racing the delete: no row to update
    }
    BrokerStore store(path, kFast);
    EXPECT_EQ(store.find_member("b")->state_seq, 10u) << "flushed when the store closed";
    EXPECT_FALSE(store.find_member("a"));
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
}

TEST(BrokerStore, UnopenableDatabaseIsNamed) {
    try {
        BrokerStore store("/nonexistent-dir/x.db", kFast);
        FAIL() << "opened";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "broker database /nonexistent-dir/x.db: unable to open database file");
    }
}

}  // namespace
}  // namespace nanotime::broker
