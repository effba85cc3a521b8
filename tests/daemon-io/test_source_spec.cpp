// nanotimectl add's words to a [[source]] table: what the daemon's parser
// reads back is what the operator typed.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "nanotimectl/source_spec.hpp"

namespace nanotime::ctl {
namespace {

TEST(SourceSpec, ChronycWordsBecomeTheConfigurationsKeys) {
    std::string error;
    auto text = source_toml({"server", "ntp1.example", "iburst", "minpoll", "4", "maxpoll", "6",
                             "port", "1123", "xleave", "trust"},
                            error);
    ASSERT_TRUE(text) << error;
    config::SourcesFileResult r = config::parse_sources_file(*text, "add");
    ASSERT_TRUE(r.errors.empty()) << r.errors.front().to_string() << "\n" << *text;
    ASSERT_EQ(r.sources.size(), 1u);
    const config::SourceEntry& s = r.sources[0];
    EXPECT_EQ(s.kind, config::SourceKind::Server);
    EXPECT_EQ(s.address, "ntp1.example");
    EXPECT_TRUE(s.source.iburst);
    EXPECT_TRUE(s.source.xleave);
    EXPECT_TRUE(s.source.trust);
    EXPECT_EQ(s.source.minpoll, 4);
    EXPECT_EQ(s.source.maxpoll, 6);
    EXPECT_EQ(s.port, 1123);

    // chronyc's spellings, a pool.
    text =
        source_toml({"pool", "pool.example", "maxsources", "3", "nts", "ntsport", "4461"}, error);
    ASSERT_TRUE(text) << error;
    r = config::parse_sources_file(*text, "add");
    ASSERT_TRUE(r.errors.empty()) << r.errors.front().to_string();
    EXPECT_EQ(r.sources[0].kind, config::SourceKind::Pool);
    EXPECT_EQ(r.sources[0].max_sources, 3u);
    EXPECT_TRUE(r.sources[0].nts);
    EXPECT_EQ(r.sources[0].nts_port, 4461);
}

TEST(SourceSpec, HostileHostNamesStayOneStringAndMistakesAreNamed) {
    std::string error;
    // A quote and a newline cannot smuggle in a key: the daemon sees one
    // string, and refuses it as no host name.
    auto text = source_toml({"server", "a\"\nport=1\n\\"}, error);
    ASSERT_TRUE(text) << error;
    config::SourcesFileResult r = config::parse_sources_file(*text, "add");
    ASSERT_EQ(r.errors.size(), 1u) << *text;
    EXPECT_EQ(r.errors.front().to_string(),
              "add:1:1: [[source]] 'a\"\nport=1\n\\' is not a host name or address");

    EXPECT_FALSE(source_toml({"server"}, error));
    EXPECT_EQ(error, "add needs \"server\" or \"pool\", then the host (and options)");
    EXPECT_FALSE(source_toml({"peer", "x"}, error));
    EXPECT_FALSE(source_toml({"server", "x", "minpoll"}, error));
    EXPECT_EQ(error, "option minpoll needs a number");
    EXPECT_FALSE(source_toml({"server", "x", "minpoll", "4s"}, error));
    EXPECT_EQ(error, "option minpoll needs a number");
    EXPECT_FALSE(source_toml({"server", "x", "prefer"}, error));
    EXPECT_NE(error.find("unknown option \"prefer\""), std::string::npos);
    // Out of range is the daemon's to say, with the line.
    text = source_toml({"server", "x", "minpoll", "99"}, error);
    ASSERT_TRUE(text);
    r = config::parse_sources_file(*text, "add");
    ASSERT_FALSE(r.errors.empty());
    EXPECT_EQ(r.errors.front().line, 3u);
}

}  // namespace
}  // namespace nanotime::ctl
