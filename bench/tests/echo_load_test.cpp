// bench/tests/echo_load_test.cpp — echo-load run briefly against real servers (its counts must
// add up and show no errors) and against a broken one (it must report errors, not a number).
#include "common/net.hpp"
#include "common/version.hpp"
#include "tests/support/server_process.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <optional>
#include <regex>

namespace cs::bench {
namespace {

using namespace std::chrono_literals;
using cs::test::Launch;
using cs::test::RunResult;
using cs::test::ServerProcess;

// The value of "key" in echo-load's flat JSON line; nothing for null or a missing key.
std::optional<double> field(const std::string& json, const std::string& key) {
    std::smatch match;
    if (!std::regex_search(json, match, std::regex("\"" + key + "\":(-?[0-9][0-9.eE+-]*)"))) return std::nullopt;
    return std::stod(match[1]);
}

double number(const std::string& json, const std::string& key) {
    auto value = field(json, key);
    EXPECT_TRUE(value.has_value()) << key << " missing or null in " << json;
    return value.value_or(-1);
}

struct Load {
    RunResult run;
    std::string json;  // the last line that starts with '{'
};

Load run_load(const ServerProcess& server, std::vector<std::string> args) {
    std::vector<std::string> all{"--port",
                                 std::to_string(server.port()),
                                 "--server-pid",
                                 std::to_string(server.pid()),
                                 "--json",
                                 "--warmup",
                                 "0.1",
                                 "--duration",
                                 "0.4",
                                 "--timeout",
                                 "1"};
    all.insert(all.end(), args.begin(), args.end());
    Load load{cs::test::run_to_exit(ECHO_LOAD, all, 20s), ""};
    std::size_t start = load.run.out.rfind("\n{");
    load.json = start == std::string::npos ? load.run.out : load.run.out.substr(start + 1);
    return load;
}

ServerProcess start(const char* binary, std::vector<std::string> args = {}) {
    args.push_back("--quiet");
    return ServerProcess::start(Launch{.binary = binary, .args = args});
}

// Whatever happened, every request sent is accounted for exactly once.
void expect_requests_accounted_for(const std::string& json) {
    EXPECT_EQ(number(json, "sent"), number(json, "echoed") + number(json, "timed_out") + number(json, "lost")) << json;
    EXPECT_EQ(number(json, "requests") + number(json, "censored"), number(json, "latency_count")) << json;
}

// ---- against correct servers ---------------------------------------------------------------

struct ServerCase {
    std::string name;
    std::string binary;
    bool concurrent = true;
};

void PrintTo(const ServerCase& server, std::ostream* out) { *out << server.name; }

class EchoLoadAgainst : public testing::TestWithParam<ServerCase> {};

TEST_P(EchoLoadAgainst, PingPongCountsAddUpWithNoErrors) {
    ServerProcess server = start(GetParam().binary.c_str());
    Load load = run_load(server, {"--conns", "4", "--depth", "3", "--size", "100"});
    const std::string& json = load.json;
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(json, "errors"), 0) << json;
    EXPECT_EQ(number(json, "timed_out"), 0) << json;
    EXPECT_EQ(number(json, "sent"), number(json, "echoed")) << "every request came back, the late ones in the drain";
    expect_requests_accounted_for(json);
    EXPECT_GT(number(json, "requests"), 100) << json;
    EXPECT_NEAR(number(json, "rps"), number(json, "requests") / number(json, "window_s"), 1.0) << json;
    EXPECT_NEAR(number(json, "mbps"), number(json, "rps") * 100 / 1e6, 0.01) << json;
    EXPECT_LE(number(json, "p50_us"), number(json, "p99_us"));
    EXPECT_LE(number(json, "p99_us"), number(json, "max_us"));
    EXPECT_EQ(number(json, "connections"), 4);
    // The observed concurrency is the lesson: one connection at a time for 01, all four otherwise.
    EXPECT_EQ(number(json, "served"), GetParam().concurrent ? 4 : 1) << json;
    EXPECT_GE(number(json, "server_cpu_s"), 0);
    // The user/system split comes from clock ticks (10 ms each): a server that ran for fewer than
    // 10 of them in a short run has no honest split, and the report says null rather than guess.
    if (auto user = field(json, "server_user_s")) {
        EXPECT_GE(*user, 0) << json;
    }
    EXPECT_GT(number(json, "server_rss_kib"), 0);
    EXPECT_TRUE(json.find("\"server_alive\":true") != std::string::npos) << json;
}

TEST_P(EchoLoadAgainst, ChurnMeasuresExactlyTheCountedConnections) {
    ServerProcess server = start(GetParam().binary.c_str());
    Load load = run_load(server, {"--mode", "churn", "--count", "300", "--conns", "4"});
    const std::string& json = load.json;
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(json, "errors"), 0) << json;
    EXPECT_EQ(number(json, "requests"), 300) << json;
    EXPECT_EQ(number(json, "sent"), number(json, "echoed")) << json;
    EXPECT_GE(number(json, "connections"), 300);
    EXPECT_EQ(number(json, "server_zombies"), 0);
    expect_requests_accounted_for(json);
}

std::vector<ServerCase> servers() {
    std::vector<ServerCase> list{{"asio", ECHO_ASIO}};
#ifdef ECHO_ITERATIVE
    list.push_back({"iterative", ECHO_ITERATIVE, false});
#endif
#ifdef ECHO_EPOLL
    list.push_back({"epoll", ECHO_EPOLL});
#endif
    list.push_back({"floor", ECHO_FLOOR});
    return list;
}

std::string case_name(const testing::TestParamInfo<ServerCase>& param) { return param.param.name; }

INSTANTIATE_TEST_SUITE_P(Servers, EchoLoadAgainst, testing::ValuesIn(servers()), case_name);

TEST(EchoLoad, TwoGeneratorThreadsShareTheConnectionsAndTheirCounts) {
    ServerProcess server = start(ECHO_ASIO);
    Load load = run_load(server, {"--conns", "6", "--depth", "2", "--threads", "2"});
    const std::string& json = load.json;
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(json, "errors"), 0) << json;
    EXPECT_EQ(number(json, "connections"), 6);
    EXPECT_EQ(number(json, "served"), 6) << json;
    EXPECT_EQ(number(json, "sent"), number(json, "echoed")) << json;
    expect_requests_accounted_for(json);
}

// The lean epoll loop is the default for pingpong; the Asio state machine stays selectable, and
// both keep the same books.
TEST(EchoLoad, BothPingPongEnginesCountTheSameWay) {
    ServerProcess server = start(ECHO_ASIO);
    for (const char* engine : {"epoll", "asio"}) {
        Load load = run_load(server, {"--conns", "3", "--depth", "4", "--engine", engine});
        const std::string& json = load.json;
        ASSERT_EQ(load.run.status.code, 0) << engine << load.run.out << load.run.err;
        EXPECT_NE(json.find(fmt::format("\"engine\":\"{}\"", engine)), std::string::npos) << json;
        EXPECT_EQ(number(json, "errors"), 0) << json;
        EXPECT_EQ(number(json, "served"), 3) << json;
        EXPECT_EQ(number(json, "sent"), number(json, "echoed")) << json;
        EXPECT_GT(number(json, "generator_cpu_us_per_req"), 0) << json;
        expect_requests_accounted_for(json);
    }
}

// A 1 MiB request does not fit one write: the epoll engine's partial-write path must keep the order.
TEST(EchoLoad, EpollEngineWritesLargeRequestsInPieces) {
    ServerProcess server = start(ECHO_FLOOR);
    Load load = run_load(server, {"--conns", "2", "--size", "1048576"});
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(load.json, "errors"), 0) << load.json;
    EXPECT_GT(number(load.json, "requests"), 0) << load.json;
    expect_requests_accounted_for(load.json);
}

// echo-floor's --extra-syscall adds exactly the system call it promises (when the kernel lets us
// count them: root, tracefs; otherwise the count is null and there is nothing to check). The
// counts are exact; only the echoes they are divided by are estimated (the window's rate times
// the sampled interval), hence the tolerance, wide enough for a machine loaded by other work.
TEST(EchoLoad, CountsTheServersSystemCallsPerEcho) {
    std::optional<double> all[2];
    for (bool extra : {false, true}) {
        ServerProcess server = extra ? start(ECHO_FLOOR, {"--extra-syscall"}) : start(ECHO_FLOOR);
        Load load = run_load(server, {"--conns", "1", "--duration", "1", "--count-syscalls"});
        ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
        auto rw = field(load.json, "server_rw_syscalls_per_req");
        ASSERT_TRUE(rw.has_value()) << load.json;
        EXPECT_NEAR(*rw, 2.0, 0.4) << "one read and one write per echo: " << load.json;
        all[extra] = field(load.json, "server_syscalls_per_req");
    }
    if (all[0] && all[1]) {
        // one connection, depth 1: read, write and one epoll_wait per echo; then one more
        EXPECT_NEAR(*all[0], 3.0, 0.6);
        EXPECT_NEAR(*all[1] - *all[0], 1.0, 0.5);
    }
}

TEST(EchoLoad, VersionComesFromTheVersionFile) {
    for (const char* binary : {ECHO_LOAD, ECHO_FLOOR, ECHO_ASIO}) {
        RunResult run = cs::test::run_to_exit(binary, {"--version"});
        EXPECT_EQ(run.status.code, 0) << binary << run.err;
        EXPECT_NE(run.out.find(cs::kVersion), std::string::npos) << binary << ": " << run.out;
    }
}

TEST(EchoLoad, RateModeKeepsThePlannedRate) {
    ServerProcess server = start(ECHO_ASIO);
    Load load = run_load(server, {"--mode", "rate", "--rate", "2000", "--conns", "4"});
    const std::string& json = load.json;
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(json, "errors"), 0) << json;
    EXPECT_NEAR(number(json, "rps"), 2000, 300) << json;
    EXPECT_LE(number(json, "send_lag_p50_us"), number(json, "p50_us")) << "lag is a part of latency: " << json;
    expect_requests_accounted_for(json);
}

#ifdef ECHO_ITERATIVE
// 01 serves one of three clients; in open loop the other two keep planning requests that are
// never answered in the window. Their wait must show in the percentiles, not vanish.
TEST(EchoLoad, RateModeChargesClientsThatWaitTheWholeWindow) {
    ServerProcess server = start(ECHO_ITERATIVE);
    Load load = run_load(server, {"--mode", "rate", "--rate", "300", "--conns", "3", "--duration", "0.5"});
    const std::string& json = load.json;
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(json, "served"), 1) << json;
    EXPECT_GT(number(json, "censored"), number(json, "requests")) << "two thirds of the plan waited: " << json;
    EXPECT_GT(number(json, "p99_us"), 300'000) << "the waiting clients' requests are hundreds of ms old: " << json;
    EXPECT_EQ(number(json, "errors"), 0) << json;
    expect_requests_accounted_for(json);
}
#endif

TEST(EchoLoad, IdleModeHoldsConnectionsAndReportsMemoryPerConnection) {
    ServerProcess server = start(ECHO_ASIO);
    Load load = run_load(server, {"--mode", "idle", "--conns", "50", "--active", "2"});
    const std::string& json = load.json;
    ASSERT_EQ(load.run.status.code, 0) << load.run.out << load.run.err;
    EXPECT_EQ(number(json, "errors"), 0) << json;
    EXPECT_EQ(number(json, "connections"), 52);
    EXPECT_EQ(number(json, "served"), 2) << "only the active connections get echoes in the window";
    EXPECT_TRUE(field(json, "server_pss_per_conn_kib").has_value()) << json;
    expect_requests_accounted_for(json);
}

// ---- against broken servers: errors, never a number ----------------------------------------

TEST(EchoLoad, ServerThatDropsBytesMakesTheRunInvalid) {
    ServerProcess server = start(FAULTY_ECHO, {"--fault", "drop", "--every", "1000"});
    Load load = run_load(server, {"--conns", "1", "--depth", "4"});
    EXPECT_EQ(load.run.status.code, 1) << load.run.out;
    EXPECT_GE(number(load.json, "errors"), 1) << load.json;
    EXPECT_TRUE(load.json.find("\"valid\":false") != std::string::npos) << load.json;
    EXPECT_FALSE(field(load.json, "rps").has_value()) << "a wrong echo must not produce a rate: " << load.json;
    EXPECT_NE(load.run.out.find("INVALID"), std::string::npos) << load.run.out;
    expect_requests_accounted_for(load.json);
}

TEST(EchoLoad, ServerThatDropsTheEndOfAMessageIsCaughtAtItsEof) {
    // With depth 1 nothing follows the short message: only the server's EOF at the end shows
    // that bytes were lost (rather than late).
    ServerProcess server = start(FAULTY_ECHO, {"--fault", "drop", "--every", "64"});
    Load load = run_load(server, {"--conns", "1", "--depth", "1", "--size", "64"});
    EXPECT_EQ(load.run.status.code, 1) << load.run.out;
    EXPECT_GE(number(load.json, "errors"), 1) << load.json;
    EXPECT_NE(load.json.find("unanswered"), std::string::npos) << load.json;
}

TEST(EchoLoad, ServerThatReordersBytesMakesTheRunInvalid) {
    ServerProcess server = start(FAULTY_ECHO, {"--fault", "swap", "--every", "500"});
    Load load = run_load(server, {"--conns", "1", "--depth", "2"});
    EXPECT_EQ(load.run.status.code, 1) << load.run.out;
    EXPECT_GE(number(load.json, "errors"), 1) << load.json;
    EXPECT_NE(load.json.find("wrong echo"), std::string::npos) << load.json;
}

TEST(EchoLoad, ServerThatStallsShowsTimeoutsNotErrors) {
    ServerProcess server = start(FAULTY_ECHO, {"--fault", "stall", "--every", "640"});
    Load load = run_load(server, {"--conns", "1", "--depth", "1", "--timeout", "0.3"});
    EXPECT_EQ(load.run.status.code, 0) << load.run.out;
    EXPECT_EQ(number(load.json, "errors"), 0) << load.json;
    EXPECT_EQ(number(load.json, "timed_out"), 1) << load.json;
    EXPECT_EQ(number(load.json, "echoed"), 10) << "640 bytes are ten 64-byte echoes";
    expect_requests_accounted_for(load.json);
}

TEST(EchoLoad, NoServerListeningIsAnError) {
    std::uint16_t port = 0;
    {
        Fd probe = listen_tcp({.host = "127.0.0.1", .port = 0});
        port = local_port(probe.get());
    }  // closed: connecting to it is refused
    RunResult run =
        cs::test::run_to_exit(ECHO_LOAD, {"--port", std::to_string(port), "--json-only", "--duration", "0.2"}, 10s);
    EXPECT_EQ(run.status.code, 1) << run.out << run.err;
    EXPECT_NE(run.out.find("refused"), std::string::npos) << run.out;
}

TEST(EchoLoad, BadArgumentsExitTwo) {
    RunResult run = cs::test::run_to_exit(ECHO_LOAD, {"--port", "1", "--mode", "sideways"});
    EXPECT_EQ(run.status.code, 2) << run.err;
    run = cs::test::run_to_exit(ECHO_LOAD, {"--port", "1", "--mode", "rate"});
    EXPECT_EQ(run.status.code, 2) << "rate mode without --rate: " << run.err;
    run = cs::test::run_to_exit(ECHO_LOAD, {"--port", "1", "--host", "192.0.2.1"});
    EXPECT_EQ(run.status.code, 2) << "traffic goes to loopback only: " << run.err;
}

}  // namespace
}  // namespace cs::bench
