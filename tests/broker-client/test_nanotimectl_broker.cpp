// test_nanotimectl_broker.cpp - nanotimectl's broker mode, the parts
// without a network: path encoding, error text, the fleet table and the
// command line's rules (which commands need --broker, --member).
#include <gtest/gtest.h>

#include "nanotimectl/broker_commands.hpp"
#include "nanotimectl/broker_transport.hpp"

namespace nanotime::ctl {
namespace {

using nlohmann::json;

TEST(NanotimectlBroker, PathSegmentEncodesAllButUnreserved) {
    EXPECT_EQ(path_segment("member-1.example_~"), "member-1.example_~");
    EXPECT_EQ(path_segment("a/b c?"), "a%2Fb%20c%3F");
    EXPECT_EQ(path_segment("../x"), "..%2Fx");
}

TEST(NanotimectlBroker, ErrorsNameStatusAndTheBrokersReason) {
    EXPECT_EQ(describe_error(BrokerReply{503, R"({"error":"member1 is not connected"})"}),
              "503: member1 is not connected");
    EXPECT_EQ(describe_error(BrokerReply{502, "Bad Gateway"}), "502: Bad Gateway");
    EXPECT_EQ(describe_error(BrokerReply{404, ""}), "404");
}

TEST(NanotimectlBroker, FleetTableWithHealth) {
    const json reply = json::parse(R"({"members":[
        {"name":"m1","connected":true,"host":"h1","version":"0.1.0","state_time":990,
         "health":{"synchronized":true,"stratum":2,"offset_s":-1.25e-05}},
        {"name":"m2","connected":false,"host":"h2","version":"0.1.0","state_time":null}]})");
    const std::string t = format_fleet(reply, 1000);
    EXPECT_NE(
        t.find("m1                   yes       h1                   0.1.0     yes     2  -12.500 us"
               " 10 s ago"),
        std::string::npos)
        << t;
    EXPECT_NE(
        t.find("m2                   no        h2                   0.1.0     -       -           -"
               " never"),
        std::string::npos)
        << t;
    EXPECT_NE(format_fleet(json::parse(R"({"members":[]})"), 0).find("(no members)"),
              std::string::npos);
}

TEST(NanotimectlBroker, AuditTableInUtc) {
    const json reply = json::parse(R"({"entries":[
        {"seq":7,"time_ms":86400123,"actor":"token:ops","source":"10.0.0.1",
         "action":"control makestep","target":"m2","result":"ok","status":200}]})");
    const std::string t = format_audit(reply);
    EXPECT_NE(t.find("       7 1970-01-02 00:00:00"), std::string::npos) << t;
    EXPECT_NE(t.find("token:ops"), std::string::npos) << t;
    EXPECT_NE(t.find("control makestep"), std::string::npos) << t;
    EXPECT_NE(t.find("m2"), std::string::npos) << t;
    EXPECT_NE(format_audit(json::parse(R"({"entries":[]})")).find("(no entries)"),
              std::string::npos);
}

// The command line as nanotimectl's main() builds it (one view subcommand).
int run(std::vector<std::string> args) {
    CLI::App app;
    bool as_json = false;
    app.add_flag("--json", as_json);
    app.require_subcommand(1, 1);
    app.add_subcommand("tracking");
    BrokerCli cli;
    add_broker_cli(app, cli);
    std::vector<const char*> argv = {"nanotimectl"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    return run_broker_cli(app, cli, as_json).value_or(-1);
}

TEST(NanotimectlBroker, WhatNeedsTheBrokerAndAMember) {
    EXPECT_EQ(run({"tracking"}), -1) << "a local view goes on to the socket";
    EXPECT_EQ(run({"--broker", "https://b", "--member", "m1", "tracking"}), -1)
        << "a view through the broker goes on to broker_control";
    EXPECT_EQ(run({"--broker", "https://b", "tracking"}), 2) << "no --member";
    EXPECT_EQ(run({"fleet"}), 2) << "fleet without --broker";
    EXPECT_EQ(run({"token", "list"}), 2);
    EXPECT_THROW(run({"--member", "m1", "tracking"}), CLI::ParseError) << "--member needs --broker";
    EXPECT_THROW(run({"--broker", "https://b", "--cert", "c.pem", "fleet"}), CLI::ParseError)
        << "--cert needs --key";
}

}  // namespace
}  // namespace nanotime::ctl
