// 03-thread/connections.hpp — the connections being served, one thread each, and who may touch what.
//
// Ownership: a Connection owns its socket and its thread. The list owns the Connections. A
// worker thread gets a reference to its own Connection (a list node, whose address never
// changes while it is in the list), never the address of a variable the next accept() reuses.
//
// Threads: the accept thread adds, joins and shuts down; each worker closes its own socket and
// marks itself done. Every access to the list or to a Connection's socket/done is under mutex_.
// A worker field is only ever touched by the accept thread (start, join), so it needs no lock.
// Closing a socket and shutting one down under the same mutex is what keeps shutdown_all() from
// hitting a descriptor number that close() released and accept() already gave to someone else.
#pragma once

#include "common/fd.hpp"
#include "common/log.hpp"

#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace lesson03 {

struct Connection {
    explicit Connection(cs::Fd s) : socket(std::move(s)) {}
    cs::Fd socket;        // closed by its worker when the echo ends (finish())
    bool done = false;    // the worker has taken the mutex for the last time: join() returns at once
    std::jthread worker;  // declared last, so it is destroyed, i.e. joined, first
};

class Connections {
public:
    using Work = std::function<void(const cs::Fd& socket)>;  // serves one client; runs on its thread

    explicit Connections(std::size_t max_conns) : max_conns_(max_conns) {}

    // Starts a thread that runs work(socket), then finish(). False, with `socket` closed, when
    // the cap is reached or the thread cannot be created (the reason is logged).
    bool start(cs::Fd socket, Work work, const cs::Log& log);

    void join_finished();    // accept thread: join the workers that are done
    std::size_t serving();   // workers not done yet: the connections open now
    void shutdown_all();     // stop: wake every worker blocked in read() or write()
    std::size_t join_all();  // stop: wait for every worker; returns how many there were

private:
    Connection* add(cs::Fd& socket);      // a new list node that owns socket; nullptr at the cap
    void finish(Connection& connection);  // the worker's last act: close the socket, mark done

    std::mutex mutex_;
    std::list<Connection> list_;
    std::size_t max_conns_;
};

// --stack-kib: the stack size of every thread created from now on. False (and logged) on failure.
bool set_thread_stack_size(int kib, const cs::Log& log);

}  // namespace lesson03
