// bench/load/pattern.cpp — building the pattern, cutting messages from it, comparing echoes.
#include "bench/load/pattern.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace cs::bench {
namespace {

constexpr std::byte kNewline{'\n'};

// Where message (conn, seq) starts in the pattern. Multipliers coprime to the period make
// consecutive messages, and the same message on neighbouring connections, start elsewhere.
std::size_t offset_of(std::uint64_t conn, std::uint64_t seq) {
    return static_cast<std::size_t>((conn * 31 + seq * 17) % Pattern::kPeriod);
}

}  // namespace

Pattern::Pattern(std::size_t message_size) : size_(std::max<std::size_t>(message_size, 1)) {
    bytes_.resize(size_ - 1 + kPeriod);
    for (std::size_t i = 0; i < bytes_.size(); ++i) bytes_[i] = std::byte(33 + i % kPeriod);  // '!'..'y'
    if (size_ > kWholeLimit) return;
    whole_.resize(kPeriod * size_);
    for (std::size_t offset = 0; offset < kPeriod; ++offset) {
        std::byte* message = whole_.data() + offset * size_;
        std::memcpy(message, bytes_.data() + offset, size_ - 1);
        message[size_ - 1] = kNewline;
    }
}

std::span<const std::byte> Pattern::whole(std::uint64_t conn, std::uint64_t seq) const noexcept {
    if (whole_.empty()) return {};
    return std::span<const std::byte>(whole_).subspan(offset_of(conn, seq) * size_, size_);
}

std::span<const std::byte> Pattern::body(std::uint64_t conn, std::uint64_t seq) const noexcept {
    return std::span<const std::byte>(bytes_).subspan(offset_of(conn, seq), size_ - 1);
}

std::span<const std::byte> Pattern::newline() noexcept { return {&kNewline, 1}; }

bool Pattern::matches(std::uint64_t conn, std::uint64_t seq, std::size_t pos,
                      std::span<const std::byte> received) const {
    if (pos + received.size() > size_) return false;
    std::span<const std::byte> text = body(conn, seq);
    std::size_t in_body = pos < text.size() ? std::min(received.size(), text.size() - pos) : 0;
    if (in_body > 0 && std::memcmp(received.data(), text.data() + pos, in_body) != 0) return false;
    // At most the final byte is left, and it must be the newline.
    return in_body == received.size() || received[in_body] == kNewline;
}

std::string Pattern::message(std::uint64_t conn, std::uint64_t seq) const {
    auto text = body(conn, seq);
    std::string result(reinterpret_cast<const char*>(text.data()), text.size());
    result += '\n';
    return result;
}

EchoChecker::Outcome EchoChecker::consume(std::span<const std::byte> received, std::uint64_t sent) {
    Outcome outcome;
    const std::size_t size = pattern_->message_size();
    while (!received.empty()) {
        if (next_seq_ >= sent) {
            mismatch_ = fmt::format("{} bytes came back that were never sent", received.size());
            outcome.mismatch = true;
            return outcome;
        }
        std::size_t take = std::min(received.size(), size - pos_);
        if (!pattern_->matches(conn_, next_seq_, pos_, received.first(take))) {
            mismatch_ = fmt::format("message {} differs within bytes {}..{}", next_seq_, pos_, pos_ + take);
            outcome.mismatch = true;
            return outcome;
        }
        received = received.subspan(take);
        pos_ += take;
        if (pos_ == size) {
            pos_ = 0;
            ++next_seq_;
            ++outcome.completed;
        }
    }
    return outcome;
}

}  // namespace cs::bench
