// 04-select/connection_table.cpp — admitting (or refusing) clients, and closing them with a log line.
#include "04-select/connection_table.hpp"

#include "common/net.hpp"

namespace lesson04 {

// [slide:fd-setsize]
void ConnectionTable::admit(cs::Fd conn, std::string peer) {
    int fd = conn.get();
    ++accepted_;
    if (fd >= FD_SETSIZE) {  // never FD_SET() it: refuse the client instead
        log_.conn("{} refused: fd {} >= FD_SETSIZE ({}), select() cannot watch it", peer, fd, FD_SETSIZE);
        return;  // conn's destructor closes the socket
    }
    if (open_ >= max_conns_) {
        log_.conn("{} refused (fd {}): --max-conns {} reached", peer, fd, max_conns_);
        return;
    }
    log_.conn("{} connected (fd {})", peer, fd);
    slots_[fd] = std::make_unique<Connection>(std::move(conn), out_cap_, std::move(peer));
    ++open_;
}
// [/slide]

void ConnectionTable::close(int fd) {
    --open_;
    const Connection& client = *slots_[fd];
    if (client.echo.error() != 0) {
        log_.conn("{}() failed: {}; closing fd {} ({}, {} bytes echoed)", client.echo.failed_call(),
                  cs::errno_text(client.echo.error()), fd, client.peer, client.echo.bytes_echoed());
    } else {
        log_.conn("{} closed (fd {}, {} bytes echoed)", client.peer, fd, client.echo.bytes_echoed());
    }
    slots_[fd].reset();  // destroys the state, then closes fd (EchoConnection owns the socket)
}

void ConnectionTable::close_idle(int fd, std::chrono::seconds idle) {
    --open_;
    const Connection& client = *slots_[fd];
    log_.conn("{} idle for {} s, closing (fd {}, {} bytes echoed)", client.peer, idle.count(), fd,
              client.echo.bytes_echoed());
    slots_[fd].reset();
}

}  // namespace lesson04
