// The master key store: rotation, the key file text form, and the file on
// disk (mode, atomic replacement, malformed files).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nts/key_store.hpp"
#include "nts/key_store_file.hpp"

namespace nts {
namespace {

using nanotime::ntp::SplitMix64;

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kHour = 3600;

TEST(NtsKeyStore, FirstRotationMakesCurrentAndNext) {
    SplitMix64 random{1};
    KeyStore store;
    EXPECT_EQ(store.sealing_key(kNow), nullptr);
    EXPECT_TRUE(store.rotate(kNow, random));
    ASSERT_EQ(store.keys().size(), 2u);
    EXPECT_EQ(store.sealing_key(kNow), &store.keys()[0]);
    EXPECT_EQ(store.keys()[1].activation, kNow + kHour);
    EXPECT_NE(store.keys()[0].key, store.keys()[1].key);
    EXPECT_NE(store.keys()[0].id, store.keys()[1].id);
    EXPECT_FALSE(store.rotate(kNow + kHour - 1, random));
    EXPECT_EQ(store.next_rotation(kNow), kNow + kHour);
}

TEST(NtsKeyStore, RotationKeepsPreviousKeysThenDropsThem) {
    SplitMix64 random{2};
    KeyStore store;  // I = 1 h, P = 3
    store.rotate(kNow, random);
    const uint32_t first = store.keys()[0].id;
    for (int hour = 1; hour <= 6; ++hour) {
        EXPECT_TRUE(store.rotate(kNow + hour * kHour, random));
        EXPECT_LE(store.keys().size(), 5u);  // P previous + current + next
        const MasterKey* sealing = store.sealing_key(kNow + hour * kHour);
        ASSERT_NE(sealing, nullptr);
        EXPECT_EQ(sealing->activation, kNow + hour * kHour);
        EXPECT_EQ(store.opening_key(first, kNow + hour * kHour) != nullptr, hour <= 3) << hour;
    }
}

TEST(NtsKeyStore, AReaderOneRotationLateAcceptsFreshCookiesKeys) {
    SplitMix64 random{3};
    KeyStore writer;
    writer.rotate(kNow, random);
    const auto reader = KeyStore::decode(writer.encode());  // loaded now
    ASSERT_TRUE(reader.has_value());
    writer.rotate(kNow + kHour, random);  // the writer rotates, the reader does not reload
    const MasterKey* fresh = writer.sealing_key(kNow + kHour);
    ASSERT_NE(fresh, nullptr);
    EXPECT_NE(reader->opening_key(fresh->id, kNow + kHour), nullptr);
    // And the reader, by its own clock, seals with that same key.
    EXPECT_EQ(reader->sealing_key(kNow + kHour)->id, fresh->id);
}

TEST(NtsKeyStore, LongDowntimeStartsAfresh) {
    SplitMix64 random{4};
    KeyStore store;
    store.rotate(kNow, random);
    const uint32_t old = store.keys()[0].id;
    EXPECT_TRUE(store.rotate(kNow + 100 * kHour, random));
    EXPECT_EQ(store.keys().size(), 2u);
    EXPECT_EQ(store.opening_key(old, kNow + 100 * kHour), nullptr);
    EXPECT_EQ(store.sealing_key(kNow + 100 * kHour)->activation, kNow + 100 * kHour);
}

TEST(NtsKeyStore, TextRoundTrip) {
    SplitMix64 random{5};
    KeyStore store(KeyPolicy{600, 5});
    for (int i = 0; i < 4; ++i) store.rotate(kNow + i * 600, random);
    const auto back = KeyStore::decode(store.encode());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, store);
}

struct Malformed {
    const char* text;
    KeyFileErrorKind kind;
    size_t line;
};

TEST(NtsKeyStore, MalformedTextIsATypedErrorWithItsLine) {
    const std::string key = " 0000000a 1700000000 " + std::string(64, 'f');
    const std::string head = "nanotime-nts-keys 1\nrotation-interval 3600\nprevious-keys 3\n";
    const std::string cases[][3] = {
        {"", "MissingMagic", "0"},
        {"hello\n", "MissingMagic", "1"},
        {"nanotime-nts-keys 2\n", "UnsupportedVersion", "1"},
        {head, "NoKeys", "0"},
        {"nanotime-nts-keys 1\nprevious-keys 3\nkey" + key + "\n", "MissingSetting", "0"},
        {head + "key" + key + "\nkey" + key + "\n", "DuplicateId", "5"},
        {head + "key 0000000 1700000000 " + std::string(64, 'f') + "\n", "BadId", "4"},
        {head + "key 0000000g 1700000000 " + std::string(64, 'f') + "\n", "BadId", "4"},
        {head + "key 0000000a -1 " + std::string(64, 'f') + "\n", "BadNumber", "4"},
        {head + "key 0000000a 1700000000 " + std::string(63, 'f') + "\n", "BadKey", "4"},
        {head + "key 0000000a 1700000000 " + std::string(63, 'f') + "x\n", "BadKey", "4"},
        {head + "key" + key + " extra\n", "UnknownItem", "4"},
        {head + "rotation-interval 3600\n", "DuplicateSetting", "4"},
        {"nanotime-nts-keys 1\nrotation-interval 59\n", "BadNumber", "2"},
        {"nanotime-nts-keys 1\nprevious-keys 17\n", "BadNumber", "2"},
        {"nanotime-nts-keys 1\nrotation-interval 3600x\n", "BadNumber", "2"},
    };
    auto name = [](KeyFileErrorKind k) {
        switch (k) {
            case KeyFileErrorKind::MissingMagic:
                return "MissingMagic";
            case KeyFileErrorKind::UnsupportedVersion:
                return "UnsupportedVersion";
            case KeyFileErrorKind::UnknownItem:
                return "UnknownItem";
            case KeyFileErrorKind::BadNumber:
                return "BadNumber";
            case KeyFileErrorKind::BadId:
                return "BadId";
            case KeyFileErrorKind::BadKey:
                return "BadKey";
            case KeyFileErrorKind::DuplicateId:
                return "DuplicateId";
            case KeyFileErrorKind::DuplicateSetting:
                return "DuplicateSetting";
            case KeyFileErrorKind::MissingSetting:
                return "MissingSetting";
            case KeyFileErrorKind::NoKeys:
                return "NoKeys";
            case KeyFileErrorKind::TooManyKeys:
                return "TooManyKeys";
        }
        return "?";
    };
    for (const auto& c : cases) {
        const auto store = KeyStore::decode(c[0]);
        ASSERT_FALSE(store.has_value()) << c[0];
        EXPECT_STREQ(name(store.error().kind), c[1].c_str()) << c[0];
        EXPECT_EQ(std::to_string(store.error().line), c[2]) << c[0];
    }
    std::string many = head;
    for (int i = 0; i <= 32; ++i) {
        char id[9];
        std::snprintf(id, sizeof id, "%08x", i);
        many += "key " + std::string(id) + " 1700000000 " + std::string(64, 'f') + "\n";
    }
    EXPECT_EQ(KeyStore::decode(many).error().kind, KeyFileErrorKind::TooManyKeys);
    EXPECT_TRUE(KeyStore::decode(head + "\n# comment\nkey" + key + "\n").has_value());
}

struct KeyFileTest : ::testing::Test {
    std::filesystem::path dir;
    void SetUp() override {
        std::string pattern = (std::filesystem::current_path() / "nts-keys-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    std::string path() const { return (dir / "nts-keys").string(); }
};

TEST_F(KeyFileTest, SaveLoadRoundTripWithMode0600) {
    SplitMix64 random{6};
    KeyStore store;
    store.rotate(kNow, random);
    const ::mode_t old_mask = ::umask(0);  // even a permissive umask gives 0600
    const auto saved = save_key_store(store, path());
    ::umask(old_mask);
    ASSERT_TRUE(saved.has_value()) << saved.error();
    struct stat st {};
    ASSERT_EQ(::stat(path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const auto loaded = load_key_store(path());
    ASSERT_TRUE(loaded.has_value()) << loaded.error();
    EXPECT_EQ(*loaded, store);
    // Replacing: the new set, and no temporary file left behind.
    store.rotate(kNow + kHour, random);
    ASSERT_TRUE(save_key_store(store, path()).has_value());
    EXPECT_EQ(*load_key_store(path()), store);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                            std::filesystem::directory_iterator()),
              1);
}

TEST_F(KeyFileTest, MalformedFileNamesFileLineAndReasonAndChangesNothing) {
    SplitMix64 random{7};
    KeyStore store;
    store.rotate(kNow, random);
    ASSERT_TRUE(save_key_store(store, path()).has_value());
    std::string text = store.encode();
    text.replace(text.rfind("key ") + 4, 1, "z");  // last line's id
    { std::ofstream(path()) << text; }
    KeyStore running = store;
    auto loaded = load_key_store(path());
    ASSERT_FALSE(loaded.has_value());
    const int last_line = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    EXPECT_EQ(loaded.error(),
              path() + ":" + std::to_string(last_line) + ": key id must be 8 hex digits");
    EXPECT_EQ(running, store);
    auto missing = load_key_store((dir / "absent").string());
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error(),
              (dir / "absent").string() + ": cannot open: No such file or directory");
}

TEST_F(KeyFileTest, SaveIntoAMissingDirectoryFailsCleanly) {
    SplitMix64 random{8};
    KeyStore store;
    store.rotate(kNow, random);
    const auto saved = save_key_store(store, (dir / "no" / "such").string());
    ASSERT_FALSE(saved.has_value());
    EXPECT_NE(saved.error().find("cannot create temporary file"), std::string::npos);
}

}  // namespace
}  // namespace nts
