// bench/load/pattern.hpp — the bytes echo-load sends, and the check of every byte that comes back.
//
// Message `seq` of connection `conn` is `size` bytes: `size - 1` bytes cut from one shared
// printable pattern, then '\n' (our servers are line-oriented: a message without '\n' would sit
// in their line buffer). The pattern repeats every 89 bytes (a prime), and where the cut starts
// depends on (conn, seq): a lost, repeated or reordered byte or message shifts what follows and
// shows up as a mismatch. Nothing is stored per message: the expected bytes are recomputed.
//
// Pattern: immutable after construction, shared by every worker thread.
// EchoChecker: one per connection, owned by the thread that reads that connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cs::bench {

class Pattern {
public:
    static constexpr std::size_t kPeriod = 89;

    explicit Pattern(std::size_t message_size);

    std::size_t message_size() const noexcept { return size_; }
    // The message without its final '\n', as a view into the pattern (send it, then newline()).
    std::span<const std::byte> body(std::uint64_t conn, std::uint64_t seq) const noexcept;
    static std::span<const std::byte> newline() noexcept;
    // The whole message, '\n' included, in one piece, so that it leaves in one iovec; only for
    // messages up to kWholeLimit bytes (there are just kPeriod different ones), else empty.
    static constexpr std::size_t kWholeLimit = 4096;
    std::span<const std::byte> whole(std::uint64_t conn, std::uint64_t seq) const noexcept;

    // True when `received` equals bytes [pos, pos + received.size()) of message (conn, seq).
    bool matches(std::uint64_t conn, std::uint64_t seq, std::size_t pos, std::span<const std::byte> received) const;

    // The whole message as a string (tests and fixtures).
    std::string message(std::uint64_t conn, std::uint64_t seq) const;

private:
    std::size_t size_;
    std::vector<std::byte> bytes_;  // size_ - 1 + kPeriod bytes: any cut of size_ - 1 fits
    std::vector<std::byte> whole_;  // small messages: kPeriod whole messages, one per start offset
};

// Follows one connection's echo stream: which message comes next and how much of it arrived.
class EchoChecker {
public:
    EchoChecker(const Pattern& pattern, std::uint64_t conn) : pattern_(&pattern), conn_(conn) {}

    struct Outcome {
        std::uint64_t completed = 0;  // messages that this chunk finished
        bool mismatch = false;        // wrong bytes, or bytes nobody sent: the connection failed
    };

    // `sent` is how many messages have been sent so far: bytes beyond them are an error too.
    Outcome consume(std::span<const std::byte> received, std::uint64_t sent);

    std::uint64_t next_seq() const noexcept { return next_seq_; }
    std::size_t partial_bytes() const noexcept { return pos_; }  // of message next_seq()
    std::string describe_mismatch() const { return mismatch_; }

private:
    const Pattern* pattern_;
    std::uint64_t conn_;
    std::uint64_t next_seq_ = 0;
    std::size_t pos_ = 0;
    std::string mismatch_;
};

}  // namespace cs::bench
