// bench/load/run.hpp — what every part of echo-load shares: options, the run's timeline, the
// per-thread tallies, and the Worker (one thread, one io_context) that runs the connections.
//
// Threads: the main thread owns the Timeline and publishes the measured window once every
// connection is up; worker threads only read it. Each Worker and its Tally belong to one
// worker thread until it is joined; the main thread merges the tallies after join().
#pragma once

#include "bench/load/histogram.hpp"
#include "bench/load/pattern.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cs::bench {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

enum class Mode {
    kPingPong,  // closed loop: `depth` requests in flight per connection, a new one per echo
    kRate,      // open loop: requests at fixed planned times, latency counted from the plan
    kChurn,     // one connection per request: connect, send, half-close, read echo to EOF
    kIdle,      // hold `conns` quiet connections (plus `active` ping-pong ones)
};

// How pingpong mode drives its connections (the other modes always use Asio).
enum class Engine {
    kEpoll,  // lean_pingpong.hpp: a bare level-triggered epoll loop, the floor server's system calls
    kAsio,   // pingpong.hpp: the Asio state machine (also behind rate and idle modes)
};

struct LoadOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    Mode mode = Mode::kPingPong;
    int conns = 10;           // connections (churn: connections open at once)
    int depth = 1;            // requests in flight per connection (pingpong, idle's active ones)
    std::size_t size = 64;    // bytes per request, '\n' included
    double duration_s = 2.0;  // measured window
    double warmup_s = 0.5;    // traffic before the window, not counted
    double rate = 0;          // rate mode: requests per second over all connections
    std::uint64_t count = 0;  // churn: measure exactly this many connections (0: use duration)
    int active = 0;           // idle: extra connections doing ping-pong meanwhile
    int threads = 1;          // worker threads, one io_context (or epoll loop) each
    Engine engine = Engine::kEpoll;
    double timeout_s = 2.0;  // how long an answer may take after the window before it is given up
    double connect_timeout_s = 10.0;
    pid_t server_pid = 0;         // sample this process tree's CPU and memory (0: do not)
    bool count_syscalls = false;  // count the server's system calls in the window (syscall_counter.hpp)
    bool json = false;            // print one JSON line after the table
    bool table = true;            // print the readable table
};

// The measured window [start, end). Unknown (time_point::max) until every connection is up;
// then published once by the main thread. Times are steady_clock counts in atomics so that
// worker threads may read them at any moment.
class Timeline {
public:
    explicit Timeline(Clock::time_point connect_deadline) : connect_deadline_(connect_deadline) {}

    Clock::time_point start() const noexcept { return Clock::time_point(Clock::duration(start_.load())); }
    Clock::time_point end() const noexcept { return Clock::time_point(Clock::duration(end_.load())); }
    Clock::time_point connect_deadline() const noexcept { return connect_deadline_; }
    bool in_window(Clock::time_point t) const noexcept { return t >= start() && t < end(); }
    bool window_over(Clock::time_point t) const noexcept { return t >= end(); }

    void publish(Clock::time_point start, Clock::time_point end) noexcept {
        end_.store(end.time_since_epoch().count());
        start_.store(start.time_since_epoch().count());
    }

    // After the window, connections stop sending but keep the connection open until the main
    // thread has sampled the server: a half-close would make 02's children exit (and their CPU
    // move elsewhere) while it is still counting them.
    void allow_drain() noexcept { drain_allowed_.store(true); }
    bool drain_allowed() const noexcept { return drain_allowed_.load(); }

private:
    static constexpr Clock::rep kNever = Clock::duration::max().count();
    std::atomic<Clock::rep> start_{kNever};
    std::atomic<Clock::rep> end_{kNever};
    std::atomic<bool> drain_allowed_{false};
    Clock::time_point connect_deadline_;
};

// Counts of one worker thread. Requests: sent = echoed + timed_out + lost, once the run is over.
struct Tally {
    std::uint64_t sent = 0;              // requests written, whole run
    std::uint64_t echoed = 0;            // requests echoed completely and correctly, whole run
    std::uint64_t timed_out = 0;         // requests unanswered when their connection was given up
    std::uint64_t lost = 0;              // requests outstanding on a connection that failed
    std::uint64_t errors = 0;            // connections that failed (wrong bytes, early close, reset...)
    std::uint64_t connect_timeouts = 0;  // connections never established in time
    std::uint64_t requests = 0;          // echoes inside the measured window
    std::uint64_t censored = 0;          // rate mode: requests still unanswered when the window closed,
                                         // recorded at their age then (latency.count() = requests + censored)
    std::uint64_t served = 0;            // connections with at least one echo inside the window
    std::uint64_t connections = 0;       // connections established
    Histogram latency;                   // nanoseconds, of the requests inside the window
    Histogram send_lag;                  // rate mode: how late the generator sent after the plan (ns)
    Clock::time_point last_measured{};   // churn --count: the window closes at the last echo
    std::string first_error;

    void error(std::string what);
    void merge(const Tally& other);
};

// Things shared by all workers, written with atomics.
struct Shared {
    std::atomic<int> unready{0};           // connections not yet ready; the window opens at 0
    std::atomic<std::int64_t> tickets{0};  // churn --count: measured connections left to start
};

class Worker;

// One connection (or, for churn, one chain of connections) driven by a Worker.
class Task {
public:
    virtual ~Task() = default;
    virtual void start() = 0;
    // Called every few milliseconds: deadlines (connect, end of window, give-up) live here.
    virtual void on_tick(Clock::time_point now) = 0;
    virtual bool finished() const = 0;
};

class Worker {
public:
    static constexpr std::size_t kScratchBytes = 64 * 1024;
    static constexpr int kConnectWindow = 64;  // connects in flight: a burst of 10,000 SYNs would
                                               // overflow the backlog and cost 1 s retransmits

    Worker(const LoadOptions& options, const Pattern& pattern, const Timeline& timeline, Shared& shared,
           tcp::endpoint server);

    void add(std::unique_ptr<Task> task) { tasks_.push_back(std::move(task)); }
    void run();  // on the worker thread: starts the tasks and returns when all have finished

    // For tasks.
    asio::io_context& io() noexcept { return io_; }
    std::span<std::byte> scratch() noexcept { return scratch_; }  // read buffer shared by this thread's tasks
    Tally& tally() noexcept { return tally_; }
    const Tally& tally() const noexcept { return tally_; }
    const LoadOptions& options() const noexcept { return options_; }
    const Pattern& pattern() const noexcept { return pattern_; }
    const Timeline& timeline() const noexcept { return timeline_; }
    Shared& shared() noexcept { return shared_; }
    const tcp::endpoint& server() const noexcept { return server_; }
    Clock::duration timeout() const noexcept { return timeout_; }

    // A task's connect() finished (either way): let the next queued task connect.
    void connect_done();
    void mark_ready() { shared_.unready.fetch_sub(1); }

private:
    void start_more();
    void tick();

    asio::io_context io_{1};  // one thread per io_context: no locking inside Asio
    asio::steady_timer ticker_{io_};
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kScratchBytes);
    std::vector<std::unique_ptr<Task>> tasks_;
    std::size_t next_to_start_ = 0;
    int connecting_ = 0;
    Tally tally_;
    const LoadOptions& options_;
    const Pattern& pattern_;
    const Timeline& timeline_;
    Shared& shared_;
    tcp::endpoint server_;
    Clock::duration timeout_;
};

// Asio 1.81 has no buffer() for std::span.
inline asio::const_buffer as_buffer(std::span<const std::byte> bytes) { return {bytes.data(), bytes.size()}; }

std::chrono::nanoseconds nanoseconds_between(Clock::time_point from, Clock::time_point to);

}  // namespace cs::bench
