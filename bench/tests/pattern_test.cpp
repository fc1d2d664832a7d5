// bench/tests/pattern_test.cpp — the bytes echo-load sends, and the checker that must catch
// every kind of wrong echo: a lost byte, a swap, a lost message, extra bytes.
#include "bench/load/pattern.hpp"

#include <gtest/gtest.h>

namespace cs::bench {
namespace {

std::span<const std::byte> bytes(const std::string& text) { return std::as_bytes(std::span(text)); }

std::string stream(const Pattern& pattern, std::uint64_t conn, int messages) {
    std::string all;
    for (int seq = 0; seq < messages; ++seq) all += pattern.message(conn, static_cast<std::uint64_t>(seq));
    return all;
}

TEST(Pattern, MessagesHaveTheRequestedSizeAndOneNewlineAtTheEnd) {
    for (std::size_t size : {1u, 2u, 64u, 1000u, 1u << 20}) {
        Pattern pattern(size);
        std::string message = pattern.message(3, 5);
        ASSERT_EQ(message.size(), size);
        EXPECT_EQ(message.back(), '\n');
        EXPECT_EQ(message.find('\n'), size - 1) << "a line-oriented server would split the message";
    }
}

TEST(Pattern, ConsecutiveMessagesAndNeighbouringConnectionsDiffer) {
    Pattern pattern(64);
    EXPECT_NE(pattern.message(0, 0), pattern.message(0, 1));
    EXPECT_NE(pattern.message(0, 0), pattern.message(1, 0));
}

TEST(EchoChecker, AcceptsTheExactStreamInAnyChunking) {
    Pattern pattern(100);
    std::string echo = stream(pattern, 7, 20);
    for (std::size_t chunk : {1u, 7u, 100u, 333u, 2000u}) {
        EchoChecker checker(pattern, 7);
        std::uint64_t completed = 0;
        for (std::size_t at = 0; at < echo.size(); at += chunk) {
            auto outcome = checker.consume(bytes(echo.substr(at, chunk)), 20);
            ASSERT_FALSE(outcome.mismatch) << checker.describe_mismatch();
            completed += outcome.completed;
        }
        EXPECT_EQ(completed, 20u) << "chunk " << chunk;
        EXPECT_EQ(checker.partial_bytes(), 0u);
    }
}

TEST(EchoChecker, CatchesOneLostByte) {
    Pattern pattern(64);
    std::string echo = stream(pattern, 0, 10);
    echo.erase(200, 1);
    EchoChecker checker(pattern, 0);
    EXPECT_TRUE(checker.consume(bytes(echo), 10).mismatch);
}

TEST(EchoChecker, CatchesTwoSwappedBytes) {
    Pattern pattern(64);
    std::string echo = stream(pattern, 0, 10);
    std::swap(echo[300], echo[301]);
    EchoChecker checker(pattern, 0);
    EXPECT_TRUE(checker.consume(bytes(echo), 10).mismatch);
}

TEST(EchoChecker, CatchesALostWholeMessage) {
    Pattern pattern(64);
    std::string echo = stream(pattern, 0, 10);
    echo.erase(64 * 3, 64);
    EchoChecker checker(pattern, 0);
    EXPECT_TRUE(checker.consume(bytes(echo), 10).mismatch);
}

TEST(EchoChecker, CatchesAnotherConnectionsBytes) {
    Pattern pattern(64);
    EchoChecker checker(pattern, 0);
    EXPECT_TRUE(checker.consume(bytes(pattern.message(1, 0)), 1).mismatch);
}

TEST(EchoChecker, CatchesBytesThatWereNeverSent) {
    Pattern pattern(64);
    EchoChecker checker(pattern, 0);
    EXPECT_TRUE(checker.consume(bytes(stream(pattern, 0, 3)), 2).mismatch);
}

}  // namespace
}  // namespace cs::bench
