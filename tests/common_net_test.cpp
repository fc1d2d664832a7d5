// tests/common_net_test.cpp — listen/connect helpers and the shared command line.
#include "common/cli.hpp"
#include "common/net.hpp"
#include "common/rio.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace cs {
namespace {

TEST(ListenTcp, PortZeroGetsARealPortThatAcceptsConnections) {
    Fd listener = listen_tcp({.host = "127.0.0.1", .port = 0});
    std::uint16_t port = local_port(listener.get());
    EXPECT_NE(port, 0);
    EXPECT_EQ(local_endpoint(listener.get()), "127.0.0.1:" + std::to_string(port));
    Fd client = connect_tcp("127.0.0.1", port);
    Fd server{::accept(listener.get(), nullptr, nullptr)};
    ASSERT_TRUE(server);
    EXPECT_EQ(peer_endpoint(server.get()), "127.0.0.1:" + std::to_string(local_port(client.get())));
}

TEST(ListenTcp, PortInUseThrowsNamingBind) {
    Fd first = listen_tcp({.port = 0});
    try {
        listen_tcp({.port = local_port(first.get())});
        FAIL() << "second listen on the same port succeeded";
    } catch (const std::system_error& error) {
        EXPECT_EQ(error.code().value(), EADDRINUSE);
        EXPECT_NE(std::string(error.what()).find("bind()"), std::string::npos) << error.what();
    }
}

TEST(ListenTcp, ReusePortLetsTwoSocketsListenOnOnePort) {
    Fd first = listen_tcp({.port = 0, .reuse_port = true});
    Fd second = listen_tcp({.port = local_port(first.get()), .reuse_port = true});
    EXPECT_EQ(local_port(first.get()), local_port(second.get()));
}

TEST(ListenTcp, UnknownHostThrows) { EXPECT_THROW(listen_tcp({.host = "no-such-host.invalid"}), std::system_error); }

TEST(CommandLine, ParsesTheContractOptions) {
    CommandLine cli("echo-test", "test", 9001);
    const char* argv[] = {"echo-test", "--host", "::1", "--port", "0", "--quiet"};
    EXPECT_FALSE(cli.parse(6, const_cast<char**>(argv)).has_value());
    EXPECT_EQ(cli.options().host, "::1");
    EXPECT_EQ(cli.options().port, 0);
    EXPECT_TRUE(cli.options().quiet);
}

TEST(CommandLine, DefaultsToLoopbackAndTheLessonPort) {
    CommandLine cli("echo-test", "test", 9004);
    const char* argv[] = {"echo-test"};
    EXPECT_FALSE(cli.parse(1, const_cast<char**>(argv)).has_value());
    EXPECT_EQ(cli.options().host, "127.0.0.1");
    EXPECT_EQ(cli.options().port, 9004);
}

TEST(CommandLine, PortOutOfRangeIsAUsageError) {
    CommandLine cli("echo-test", "test", 9001);
    const char* argv[] = {"echo-test", "--port", "70000"};
    testing::internal::CaptureStderr();
    auto exit_code = cli.parse(3, const_cast<char**>(argv));
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(exit_code, kExitUsage);
    EXPECT_EQ(err.rfind("echo-test: ", 0), 0u) << err;
}

TEST(CommandLine, MaxConnsIsOptIn) {
    CommandLine cli("echo-test", "test", 9002);
    cli.add_max_conns(64);
    const char* argv[] = {"echo-test", "--max-conns", "3"};
    EXPECT_FALSE(cli.parse(3, const_cast<char**>(argv)).has_value());
    EXPECT_EQ(cli.options().max_conns, 3);
}

}  // namespace
}  // namespace cs
