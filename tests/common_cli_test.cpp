// tests/common_cli_test.cpp — cs::CommandLine reads numbers the way a person writes them.
// CLI11 alone reads integers as C literals: "010" is 8, "0x10" is 16, "09" an error.
#include "common/cli.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace cs {
namespace {

// Parses `words` after a program name with the adders every lesson uses; the exit code, if any.
struct Parsed {
    std::optional<int> exit_code;
    ServerOptions options;
    int threads = 1;
    std::size_t out_cap = 1;
};

Parsed parse(std::vector<std::string> words) {
    CommandLine cli("echo-test", "test", 9000);
    cli.add_max_conns(100);
    cli.add_idle_timeout(300);
    Parsed parsed;
    cli.add_int("--threads", parsed.threads, "threads", 1, 64);
    cli.add_size("--out-cap", parsed.out_cap, "bytes");
    words.insert(words.begin(), "echo-test");
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    parsed.exit_code = cli.parse(static_cast<int>(argv.size()), argv.data());
    parsed.options = cli.options();
    return parsed;
}

TEST(CommandLine, LeadingZerosAreDecimal) {
    Parsed parsed =
        parse({"--port", "010", "--idle-timeout", "010", "--max-conns", "010", "--threads", "010", "--out-cap", "010"});
    ASSERT_FALSE(parsed.exit_code);
    EXPECT_EQ(parsed.options.port, 10);
    EXPECT_EQ(parsed.options.idle_timeout, 10);
    EXPECT_EQ(parsed.options.max_conns, 10);
    EXPECT_EQ(parsed.threads, 10);
    EXPECT_EQ(parsed.out_cap, 10u);
    EXPECT_EQ(parse({"--port", "09001"}).options.port, 9001);
    EXPECT_EQ(parse({"--port", "0"}).options.port, 0);
    EXPECT_EQ(parse({"--port", "000"}).options.port, 0);
}

TEST(CommandLine, NonDecimalNumbersAreUsageErrors) {
    for (const char* bad : {"0x0", "0x10", "1e3", "-1", "+1", " 1", "1 ", "", "0b1", "1.0"}) {
        EXPECT_EQ(parse({"--port", bad}).exit_code, kExitUsage) << "--port '" << bad << "'";
        EXPECT_EQ(parse({"--idle-timeout", bad}).exit_code, kExitUsage) << "--idle-timeout '" << bad << "'";
    }
}

TEST(CommandLine, EmptyHostIsAUsageError) {
    EXPECT_EQ(parse({"--host", ""}).exit_code, kExitUsage);
    EXPECT_FALSE(parse({"--host", "0.0.0.0"}).exit_code);
}

}  // namespace
}  // namespace cs
