// 03-thread/connections.cpp — a thread per connection, and every thread joined.
#include "03-thread/connections.hpp"

#include "common/net.hpp"

#include <iterator>
#include <pthread.h>
#include <sys/socket.h>
#include <system_error>

namespace lesson03 {

// [slide:start-thread]
bool Connections::start(cs::Fd socket, Work work, const cs::Log& log) {
    Connection* connection = add(socket);  // under the mutex, briefly; takes socket unless full
    if (connection == nullptr) {           // over the cap: log (without the lock), close, serve the others
        log.conn("{}: {} connections already (--max-conns); closing fd {}", cs::peer_endpoint(socket.get()), max_conns_,
                 socket.get());
        return false;
    }
    // [todo:1 one thread per client | tests: FiftyClientsHeldAtOnceAreFiftyExtraThreads, LogsPidAndTheWorkerThreadId, EchoesOneLine, SigtermWithTwentyConnectedClientsJoinsEveryThread]
    //? Start a std::jthread that runs work(connection->socket), then finish(*connection). Give it
    //? the address of its own list node, never of a variable of this loop. Creating a thread can
    //? fail (std::system_error): log "pthread_create() failed", drop the node, return false.
    try {
        // Without the mutex: creating a thread takes a while, and workers that finish need the
        // mutex meanwhile. The thread captures a reference to its own list node: that address
        // stays valid until the thread is joined. (Passing &connfd of the accept loop is the
        // classic race: the next accept() overwrites connfd before the new thread has read it.)
        connection->worker = std::jthread([this, connection, work = std::move(work)] {
            work(connection->socket);
            finish(*connection);
        });
    } catch (const std::system_error& error) {  // EAGAIN: no memory for another stack, or a thread limit
        log.info("pthread_create() failed: {}; closing fd {}", error.code().message(), connection->socket.get());
        std::lock_guard lock(mutex_);
        list_.pop_back();  // still the last node: only this (the accept) thread adds
        return false;
    }
    //| (void)work;
    //| log.conn("{}: not served yet (TODO 1); hanging up", cs::peer_endpoint(connection->socket.get()));
    //| finish(*connection);
    // [/todo]
    return true;
}
// [/slide]

Connection* Connections::add(cs::Fd& socket) {
    std::lock_guard lock(mutex_);
    if (list_.size() >= max_conns_) return nullptr;  // socket stays with the caller, who closes it
    return &list_.emplace_back(std::move(socket));
}

void Connections::finish(Connection& connection) {
    std::lock_guard lock(mutex_);
    connection.socket.reset();  // the client gets its FIN now, not when this thread is joined
    connection.done = true;
}

// [slide:join-finished]
// Why join and not detach(): a detached thread cannot be waited for, so on SIGTERM main() could
// return, and the process run its exit code, while a worker still uses the log or its socket.
// A thread that ended but was not joined keeps its stack until join(): the thread version of a
// zombie. The accept loop calls this each time it wakes, as 02's loop reports reaped children.
void Connections::join_finished() {
    // [todo:2 join the finished threads | tests: ThreadCountReturnsToBaselineAfterTwoHundredConnections, ThreeRoundsOfOneHundredFiftySimultaneousClientsLeaveNoThreadAndNoDescriptor, OverTheCapANewClientIsClosedAndTheServerGoesOn]
    //? Under the mutex, move the nodes whose worker is done out of list_ (std::list::splice);
    //? then let them go without the mutex held: a std::jthread joins in its destructor.
    std::list<Connection> finished;
    {
        std::lock_guard lock(mutex_);
        for (auto it = list_.begin(); it != list_.end();) {
            auto next = std::next(it);
            if (it->done) finished.splice(finished.end(), list_, it);
            it = next;
        }
    }
    // [/todo]
}  // destroying `finished` joins each thread (std::jthread's destructor), without the mutex held:
// a done worker has taken the mutex for the last time, so none of these joins waits long.
// [/slide]

std::size_t Connections::serving() {
    std::lock_guard lock(mutex_);
    std::size_t count = 0;
    for (const Connection& connection : list_) {
        if (!connection.done) ++count;
    }
    return count;
}

// [slide:shutdown-all]
void Connections::shutdown_all() {
    std::lock_guard lock(mutex_);
    for (Connection& connection : list_) {
        // shutdown(), not close(): the worker still owns the descriptor and may be blocked on it.
        // Its read() now returns 0 (EOF) and its write() fails (EPIPE): it ends the normal way.
        if (connection.socket) ::shutdown(connection.socket.get(), SHUT_RDWR);
    }
}
// [/slide]

// --stack-kib: std::thread has no stack-size parameter, so set the process-wide default that
// pthread_create() uses for every thread created without attributes, as std::thread does.
bool set_thread_stack_size(int kib, const cs::Log& log) {
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    int error = ::pthread_attr_setstacksize(&attr, static_cast<std::size_t>(kib) * 1024);
    if (error == 0) error = ::pthread_setattr_default_np(&attr);
    ::pthread_attr_destroy(&attr);
    if (error != 0) log.info("pthread_setattr_default_np() failed: {}", cs::errno_text(error));
    return error == 0;
}

std::size_t Connections::join_all() {
    std::list<Connection> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(list_);  // nodes keep their addresses: workers still finish() on them
    }
    return all.size();
}  // every worker is joined here, before main() can return

}  // namespace lesson03
