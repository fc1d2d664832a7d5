// fuzz/line_reader_fuzz.cpp — libFuzzer target for the RIO LineReader.
//
// Input: two control bytes, then the data. The control bytes choose the reader's buffer size
// and seed the choice of calls (readline / read_lines / readn) and their output sizes; a writer
// thread feeds the data through a pipe in pseudo-random chunks, so reads come back short at
// arbitrary places. Whatever the chunking, the invariants are:
//   * the concatenation of everything the reader hands out equals the input, byte for byte;
//   * readline() output holds at most one '\n', and only as its last byte;
//   * read_lines() output either ends in '\n' or holds no '\n' at all.
#include "common/fd.hpp"
#include "common/rio.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

void check(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input that got here
}

void feed(int fd, const std::uint8_t* data, std::size_t size, unsigned seed) {
    std::minstd_rand random(seed);
    std::size_t offset = 0;
    while (offset < size) {
        std::size_t chunk = std::min<std::size_t>(size - offset, 1 + random() % 97);
        check(cs::writen(fd, std::as_bytes(std::span(data + offset, chunk))) == static_cast<ssize_t>(chunk));
        offset += chunk;
    }
}

std::size_t count_newlines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t capacity = 1 + input[0] % 64;
    const unsigned seed = input[1];
    const std::uint8_t* data = input + 2;
    const std::size_t data_size = size - 2;

    int fds[2];
    check(::pipe(fds) == 0);
    cs::Fd read_end(fds[0]);
    std::thread writer([&, write_fd = fds[1]] {
        feed(write_fd, data, data_size, seed);
        ::close(write_fd);  // EOF for the reader
    });

    cs::LineReader reader(read_end.get(), capacity);
    std::minstd_rand random(seed * 7919u + 1);
    std::string all;
    for (;;) {
        std::string out(1 + random() % 80, '\0');
        auto bytes = std::as_writable_bytes(std::span(out));
        int call = static_cast<int>(random() % 3);
        ssize_t n = call == 0 ? reader.readline(bytes) : call == 1 ? reader.read_lines(bytes) : reader.readn(bytes);
        check(n >= 0);
        if (n == 0) break;
        out.resize(static_cast<std::size_t>(n));
        if (call == 0) check(count_newlines(out) == 0 || (count_newlines(out) == 1 && out.back() == '\n'));
        if (call == 1) check(count_newlines(out) == 0 || out.back() == '\n');
        all += out;
    }
    writer.join();
    check(all.size() == data_size);
    check(all.empty() || std::equal(all.begin(), all.end(), reinterpret_cast<const char*>(data)));
    return 0;
}
