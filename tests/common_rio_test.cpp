// tests/common_rio_test.cpp — the RIO package against the facts of life it exists for:
// short counts, EINTR, partial lines at EOF, lines longer than the buffer, NUL bytes.
#include "common/fd.hpp"
#include "common/rio.hpp"

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace cs {
namespace {

using namespace std::chrono_literals;

struct Pair {
    Fd reader, writer;
};

Pair socket_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
    return {Fd(fds[0]), Fd(fds[1])};
}

std::string read_line(LineReader& reader, std::size_t max = 256) {
    std::string out(max, '\0');
    ssize_t n = reader.readline(std::as_writable_bytes(std::span(out)));
    out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return n < 0 ? "<error>" : out;
}

std::string read_lines(LineReader& reader, std::size_t max = 256) {
    std::string out(max, '\0');
    ssize_t n = reader.read_lines(std::as_writable_bytes(std::span(out)));
    out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return n < 0 ? "<error>" : out;
}

void write_all(const Fd& fd, std::string_view text) {
    ASSERT_EQ(writen(fd.get(), as_bytes(text)), ssize_t(text.size()));
}

// ---- EINTR: a signal handler installed without SA_RESTART interrupts blocking calls -----

std::atomic<int> signals_handled{0};
void count_signal(int) { ++signals_handled; }

class InterruptingSignal : public testing::Test {
protected:
    void SetUp() override {
        struct sigaction action {};
        action.sa_handler = count_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0;  // no SA_RESTART: blocked read()/write() return -1 with EINTR
        ::sigaction(SIGUSR1, &action, &previous_);
        signals_handled = 0;
    }
    void TearDown() override { ::sigaction(SIGUSR1, &previous_, nullptr); }

    // Waits until the thread is asleep in the kernel (state S), then signals it.
    static void interrupt_when_blocked(pthread_t thread, pid_t tid) {
        for (int i = 0; i < 500 && thread_state(tid) != 'S'; ++i) std::this_thread::sleep_for(1ms);
        int before = signals_handled;
        ::pthread_kill(thread, SIGUSR1);
        for (int i = 0; i < 500 && signals_handled == before; ++i) std::this_thread::sleep_for(1ms);
    }

    static char thread_state(pid_t tid) {
        std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
        std::string text;
        std::getline(stat, text);
        auto paren = text.rfind(')');
        return paren == std::string::npos || paren + 2 >= text.size() ? '?' : text[paren + 2];
    }

    struct sigaction previous_ {};
};

TEST_F(InterruptingSignal, ReadlineRetriesWhenSignalInterruptsBlockingRead) {
    Pair pair = socket_pair();
    std::atomic<pid_t> reader_tid{0};
    std::string line;
    std::thread reader_thread([&] {
        reader_tid = ::gettid();
        LineReader reader(pair.reader.get());
        line = read_line(reader);
    });
    while (reader_tid == 0) std::this_thread::yield();
    interrupt_when_blocked(reader_thread.native_handle(), reader_tid);
    EXPECT_EQ(signals_handled, 1);
    write_all(pair.writer, "after the signal\n");
    reader_thread.join();
    EXPECT_EQ(line, "after the signal\n");
}

TEST_F(InterruptingSignal, ReadnRetriesWhenSignalInterruptsBlockingRead) {
    Pair pair = socket_pair();
    std::atomic<pid_t> reader_tid{0};
    std::string got(10, '\0');
    ssize_t n = 0;
    std::thread reader_thread([&] {
        reader_tid = ::gettid();
        n = readn(pair.reader.get(), std::as_writable_bytes(std::span(got)));
    });
    while (reader_tid == 0) std::this_thread::yield();
    interrupt_when_blocked(reader_thread.native_handle(), reader_tid);
    write_all(pair.writer, "0123456789");
    reader_thread.join();
    EXPECT_EQ(n, 10);
    EXPECT_EQ(got, "0123456789");
    EXPECT_EQ(signals_handled, 1);
}

TEST_F(InterruptingSignal, WritenDeliversEveryByteThroughShortCountsAndSignals) {
    Pair pair = socket_pair();
    int small = 4096;
    ::setsockopt(pair.writer.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    std::string payload(4 << 20, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + i / 4096);
    std::atomic<bool> writing{true};
    ssize_t written = 0;
    std::thread writer_thread([&] {
        written = writen(pair.writer.get(), as_bytes(payload));
        writing = false;
    });
    std::thread storm([&] {  // interrupt the writer again and again while it blocks
        while (writing) {
            ::pthread_kill(writer_thread.native_handle(), SIGUSR1);
            std::this_thread::sleep_for(200us);
        }
    });
    std::string got(payload.size(), '\0');
    ssize_t n = readn(pair.reader.get(), std::as_writable_bytes(std::span(got)));
    writer_thread.join();
    storm.join();
    EXPECT_EQ(written, ssize_t(payload.size()));
    EXPECT_EQ(n, ssize_t(payload.size()));
    EXPECT_TRUE(got == payload) << "bytes lost or reordered";
    EXPECT_GT(signals_handled, 0);
}

// ---- line reader semantics --------------------------------------------------------------

TEST(LineReader, ReassemblesLineDribbledOneByteAtATime) {
    Pair pair = socket_pair();
    std::thread writer([&] {
        for (char c : std::string("abc\ndef\n")) {
            write_all(pair.writer, std::string(1, c));
            std::this_thread::sleep_for(1ms);
        }
    });
    LineReader reader(pair.reader.get());
    EXPECT_EQ(read_line(reader), "abc\n");
    EXPECT_EQ(read_line(reader), "def\n");
    writer.join();
}

TEST(LineReader, ReturnsPartialLineAtEofThenZero) {
    Pair pair = socket_pair();
    write_all(pair.writer, "complete\npartial");
    pair.writer.reset();
    LineReader reader(pair.reader.get());
    EXPECT_EQ(read_line(reader), "complete\n");
    EXPECT_EQ(read_line(reader), "partial");
    EXPECT_EQ(read_line(reader), "");
}

TEST(LineReader, ReturnsLineExactlyTheBufferSizeInOnePiece) {
    Pair pair = socket_pair();
    std::string line = std::string(15, 'x') + "\n";
    write_all(pair.writer, line + "next\n");
    LineReader reader(pair.reader.get(), 16);
    EXPECT_EQ(read_line(reader, 16), line);
    EXPECT_EQ(read_line(reader, 16), "next\n");
}

TEST(LineReader, ReturnsLongerLineInBufferSizedPiecesLosingNothing) {
    Pair pair = socket_pair();
    std::string line = std::string(40, 'y') + "\n";
    write_all(pair.writer, line);
    LineReader reader(pair.reader.get(), 16);
    EXPECT_EQ(read_line(reader, 16), std::string(16, 'y'));
    EXPECT_EQ(read_line(reader, 16), std::string(16, 'y'));
    EXPECT_EQ(read_line(reader, 16), std::string(8, 'y') + "\n");
}

TEST(LineReader, ReadsLineLongerThanItsOwnBufferWhenCallerBufferIsLarger) {
    Pair pair = socket_pair();
    std::string line = std::string(100, 'z') + "\n";
    write_all(pair.writer, line);
    LineReader reader(pair.reader.get(), 8);
    EXPECT_EQ(read_line(reader, 256), line);
}

TEST(LineReader, KeepsNulBytesAndCarriageReturns) {
    Pair pair = socket_pair();
    std::string binary("a\0b\r\0\n", 6);
    write_all(pair.writer, binary);
    LineReader reader(pair.reader.get());
    EXPECT_EQ(read_line(reader), binary);
}

TEST(LineReader, ReturnsSeveralLinesFromOneWriteOneByOne) {
    Pair pair = socket_pair();
    write_all(pair.writer, "one\ntwo\nthree\n");
    LineReader reader(pair.reader.get());
    EXPECT_EQ(read_line(reader), "one\n");
    EXPECT_EQ(read_line(reader), "two\n");
    EXPECT_EQ(read_line(reader), "three\n");
}

TEST(LineReader, ReadLinesReturnsAllCompleteLinesOfOneWriteTogether) {
    Pair pair = socket_pair();
    write_all(pair.writer, "one\ntwo\nthr");
    LineReader reader(pair.reader.get());
    EXPECT_EQ(read_lines(reader), "one\ntwo\n");
    write_all(pair.writer, "ee\n");
    EXPECT_EQ(read_lines(reader), "three\n");
    pair.writer.reset();
    EXPECT_EQ(read_lines(reader), "");
}

TEST(LineReader, ReadLinesReturnsPiecesOfOverlongLineAndTailAtEof) {
    Pair pair = socket_pair();
    write_all(pair.writer, std::string(20, 'q') + "\ntail");
    pair.writer.reset();
    LineReader reader(pair.reader.get(), 8);
    std::string all;
    for (std::string piece; !(piece = read_lines(reader, 8)).empty();) {
        EXPECT_LE(piece.size(), 8u);
        all += piece;
    }
    EXPECT_EQ(all, std::string(20, 'q') + "\ntail");
}

TEST(LineReader, ReadnAfterReadlineUsesBufferedBytesFirst) {
    Pair pair = socket_pair();
    write_all(pair.writer, "header\nBODY1234");
    LineReader reader(pair.reader.get());
    EXPECT_EQ(read_line(reader), "header\n");
    std::string body(8, '\0');
    EXPECT_EQ(reader.readn(std::as_writable_bytes(std::span(body))), 8);
    EXPECT_EQ(body, "BODY1234");
}

TEST(LineReader, ReportsReadErrorAsMinusOneWithErrno) {
    LineReader reader(-1);
    std::string out(16, '\0');
    errno = 0;
    EXPECT_EQ(reader.readline(std::as_writable_bytes(std::span(out))), -1);
    EXPECT_EQ(errno, EBADF);
}

TEST(Readn, ReturnsShortCountOnlyAtEof) {
    Pair pair = socket_pair();
    write_all(pair.writer, "abc");
    pair.writer.reset();
    std::string got(10, '\0');
    EXPECT_EQ(readn(pair.reader.get(), std::as_writable_bytes(std::span(got))), 3);
}

// ---- Fd ---------------------------------------------------------------------------------

TEST(Fd, ClosesExactlyOnceAndMovesOwnership) {
    int raw[2];
    ASSERT_EQ(::pipe(raw), 0);
    ::close(raw[1]);
    {
        Fd first(raw[0]);
        Fd second(std::move(first));
        EXPECT_FALSE(first);
        EXPECT_EQ(second.get(), raw[0]);
        EXPECT_NE(::fcntl(raw[0], F_GETFD), -1);
    }
    EXPECT_EQ(::fcntl(raw[0], F_GETFD), -1);  // closed when the owner went away
    EXPECT_EQ(errno, EBADF);
}

TEST(Fd, ReleaseGivesUpOwnership) {
    int raw[2];
    ASSERT_EQ(::pipe(raw), 0);
    ::close(raw[1]);
    int released;
    {
        Fd owner(raw[0]);
        released = owner.release();
    }
    EXPECT_NE(::fcntl(released, F_GETFD), -1);
    ::close(released);
}

}  // namespace
}  // namespace cs
