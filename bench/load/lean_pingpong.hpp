// bench/load/lean_pingpong.hpp — the closed-loop ping-pong on a bare epoll loop, no Asio.
//
// Why it exists: on loopback the generator does about as much work per echo as the server, so
// a generator that spends more per request than the server it measures caps the server's
// requests/s and every ratio printed beside it. The Asio PingPong (pingpong.hpp) spent a
// second read() per echo (Asio's reactor is edge-triggered: read until EAGAIN), a handler per
// wait and per write, and a deque node per request. This engine makes the same requests and
// checks the same bytes with the system calls of the floor server (bench/echo_floor.cpp): per
// echo one read(), one writev(), and a share of one epoll_wait(). Level-triggered epoll reports
// a socket again if a read left bytes behind, so one short read needs no EAGAIN read after it.
//
// Same counts, same rules as PingPong (sent = echoed + timed_out + lost; the window, the drain,
// an EOF while echoes are owed is an error). Connections connect one after another with a
// blocking connect() bounded by the connect deadline (loopback completes the handshake inside
// the call); the loop starts once this thread's connections are up.
//
// Owner: one thread per EpollPingPong; it only reads the Timeline and writes its own Tally.
#pragma once

#include "bench/load/run.hpp"

#include <sys/uio.h>

namespace cs::bench {

class EpollPingPong {
public:
    EpollPingPong(const LoadOptions& options, const Pattern& pattern, const Timeline& timeline, Shared& shared,
                  tcp::endpoint server);
    ~EpollPingPong();
    EpollPingPong(const EpollPingPong&) = delete;
    EpollPingPong& operator=(const EpollPingPong&) = delete;

    void add(std::uint64_t id);  // one connection; before run()
    void run();                  // on the worker thread: connects, loops, returns when every connection is done
    const Tally& tally() const noexcept { return tally_; }

private:
    enum class State { kRunning, kDraining, kDone };

    // Requests in flight on one connection: at most `depth`, so a fixed ring, no allocation per request.
    struct Conn {
        int fd = -1;
        std::uint64_t id = 0;
        State state = State::kRunning;
        EchoChecker checker;
        std::vector<Clock::time_point> origins;  // ring of `depth` send times
        std::size_t first = 0, in_flight = 0;
        std::vector<iovec> out;    // requests not yet written: views into the shared Pattern
        std::size_t out_done = 0;  // iovecs of `out` already written (the next one may be partly)
        bool waiting_writable = false;
        bool half_closed = false;
        bool served = false;
        std::uint64_t sent = 0;
        Conn(const Pattern& pattern, std::uint64_t conn_id) : id(conn_id), checker(pattern, conn_id) {}
    };

    void connect(Conn& c);
    void send_request(Conn& c, Clock::time_point now);
    void flush(Conn& c);
    void on_readable(Conn& c);
    void complete(Conn& c, std::uint64_t count, Clock::time_point now);
    void begin_drain(Conn& c);
    void half_close_when_written(Conn& c);
    void on_eof(Conn& c);
    void tick(Clock::time_point now);
    void give_up(Conn& c);
    void fail(Conn& c, const std::string& what);
    void close(Conn& c);
    void set_events(Conn& c, bool writable);

    const LoadOptions& options_;
    const Pattern& pattern_;
    const Timeline& timeline_;
    Shared& shared_;
    tcp::endpoint server_;
    Clock::duration timeout_;
    int epoll_fd_ = -1;
    std::vector<Conn> conns_;
    std::size_t open_ = 0;  // connections not yet done
    std::vector<std::byte> scratch_ = std::vector<std::byte>(Worker::kScratchBytes);
    Tally tally_;
};

}  // namespace cs::bench
