#pragma once
// In-place restart (issue 11, part 3), the I/O pieces. On SIGUSR1 the running process (the
// predecessor) starts the binary on disk again (the successor) with its listening sockets
// inherited, so no connection is ever refused; once the successor accepts, the predecessor
// closes its copies and keeps its live sessions until they end. A BOSH request for one of
// them that reaches the successor (a new TCP connection) is handed back over a local
// Unix-socket hop:
//
//   successor: unknown sid -> forward(body) --AF_UNIX, HTTP/1.1--> predecessor: hop_server
//              -> session_table::handle() -> the reply travels back the same way.
//
// The environment of the successor names what it inherits (parse_inherited()):
//   BOSHGATE_LISTEN_FDS  = "3:http0,4:http1,5:admin"   listening sockets by role
//   BOSHGATE_READY_FD    = "6"                          write one byte once accepting
//   BOSHGATE_PREDECESSOR = "@boshgate-hop-..."          the hop address (abstract namespace)
#include "boshgate/bosh/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boshgate::bosh {
class session_table;
}

namespace boshgate::server {

inline constexpr const char* env_listen_fds = "BOSHGATE_LISTEN_FDS";
inline constexpr const char* env_ready_fd = "BOSHGATE_READY_FD";
inline constexpr const char* env_predecessor = "BOSHGATE_PREDECESSOR";

/// "3:http0,4:admin" -> {http0: 3, admin: 4}. Pure. nullopt on any malformed entry (a
/// non-numeric or negative fd, an empty role, a repeated role or fd).
std::optional<std::map<std::string, int>> parse_inherited(std::string_view text);
/// The inverse, in the map's order.
std::string format_inherited(const std::map<std::string, int>& fds);

/// Whether the listening socket `fd` is bound to `address` and `port` (port 0: any port).
bool socket_bound_to(int fd, const std::string& address, std::uint16_t port);

/// What the predecessor reads of a hop request, and sends back.
struct hop_request {
    std::string body;
    bool secure = false;                                          ///< arrived over TLS
    std::optional<boost::asio::ip::tcp::endpoint> client_address; ///< PROXY-header address
};

/// The predecessor's end: an abstract-namespace Unix socket, peers with this process's uid
/// only, one BOSH request per connection dispatched into `table`.
class hop_server {
public:
    hop_server(boost::asio::io_context& ioc, std::shared_ptr<bosh::session_table> table, std::size_t max_body);
    ~hop_server();
    hop_server(const hop_server&) = delete;
    hop_server& operator=(const hop_server&) = delete;
    /// "@boshgate-hop-<pid>-<random>": the value of BOSHGATE_PREDECESSOR.
    const std::string& address() const;
    void start();
    void stop();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

/// Forwards BOSH requests for sids this process does not know to the other process (the
/// successor to its predecessor, and back). Thread-safe. Once the other process is gone
/// (connection refused) it says so for good, and the request gets `not_found()`.
class hop_client {
public:
    /// `address`: the other's hop_server::address(); `reply_timeout`: how long a forwarded
    /// request may be held (above bosh.max_wait); `not_found`: the reply for an unknown sid.
    hop_client(std::string address, std::chrono::seconds reply_timeout, std::function<bosh::reply()> not_found);
    /// Forward on `ioc` (the calling connection's io thread); `r` is called exactly once.
    void forward(boost::asio::io_context& ioc, hop_request req, bosh::responder r);
    bool gone() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

/// Starts `exe` with `argv` and the environment of this process plus `env` (replacing
/// variables of the same name), the descriptors `fds` (role -> fd here) at 3, 4, ... in the
/// child (BOSHGATE_LISTEN_FDS says which is which) and `ready_fd` after them
/// (BOSHGATE_READY_FD); every other descriptor above 2 is closed in the child. Returns the
/// pid; throws std::system_error.
int spawn_successor(const std::string& exe, const std::vector<std::string>& argv, const std::map<std::string, int>& fds,
                    int ready_fd, const std::vector<std::pair<std::string, std::string>>& env);

} // namespace boshgate::server
