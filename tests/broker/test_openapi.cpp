// The served API matches daemon/broker/openapi.yaml: every path and method
// in the file is routed, and every routed one is in the file. Reads the
// file's "paths:" block by its layout (paths at two spaces, methods at
// four), which the file's header asks to keep.
#include <fstream>
#include <set>

#include "broker_fixture.hpp"

namespace nanotime::broker::testing {
namespace {

using Route = std::pair<std::string, std::string>;

std::set<Route> routes_in_file(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in) << path;
    std::set<Route> out;
    std::string line, current;
    bool in_paths = false;
    while (std::getline(in, line)) {
        if (line == "paths:") {
            in_paths = true;
            continue;
        }
        if (!in_paths) continue;
        if (!line.empty() && line[0] != ' ' && line[0] != '#') break;  // next top-level key
        if (line.starts_with("  /") && line.back() == ':') {
            current = line.substr(2, line.size() - 3);
        } else if (line.size() > 5 && line.starts_with("    ") && line[4] != ' ' &&
                   line.back() == ':') {
            std::string method = line.substr(4, line.size() - 5);
            for (char& c : method) c = static_cast<char>(std::toupper(c));
            out.emplace(current, method);
        }
    }
    return out;
}

TEST_F(BrokerFixture, OpenApiFileMatchesTheServedRoutes) {
    const std::set<Route> file = routes_in_file(NANOTIME_BROKER_OPENAPI);
    const auto served_list = api_.routes();
    const std::set<Route> served(served_list.begin(), served_list.end());
    EXPECT_EQ(served.size(), served_list.size());
    for (const auto& r : file)
        EXPECT_TRUE(served.contains(r)) << r.second << " " << r.first << " is in openapi.yaml only";
    for (const auto& r : served)
        EXPECT_TRUE(file.contains(r)) << r.second << " " << r.first << " is not in openapi.yaml";
    EXPECT_GE(file.size(), 15u);
}

}  // namespace
}  // namespace nanotime::broker::testing
