#pragma once
// sid -> session map. Thread-safe (one mutex, held only for map operations). Parses request
// bodies (pure bosh::parse_body) and dispatches them to the owning session's strand.
#include "boshgate/bosh/session.hpp"
#include "boshgate/config/config.hpp"
#include "boshgate/limits/admission.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace boshgate::bosh {

/// What the HTTP side keeps of a BOSH request in flight: abort() tells the session that
/// the request went away (the session ignores it once the request is answered). A weak
/// session pointer and the request's id; a std::function holding them allocated once per
/// request (its local storage takes only trivially copyable callables), this does not.
class pending_request {
public:
    pending_request() = default;
    pending_request(std::weak_ptr<session> s, request_id id) noexcept : s_(std::move(s)), id_(id) {}

    /// Posts the abort to the session if it still exists; the handle is empty afterwards
    /// (an empty handle, as for a request answered at once, does nothing).
    void abort();

private:
    std::weak_ptr<session> s_;
    request_id id_ = 0; ///< 0: empty (session_table's ids start at 1)
};

class session_table : public std::enable_shared_from_this<session_table> {
public:
    /// `make_executor` yields the executor a new session runs on (the gateway's io_context).
    /// `admission`: the gateway's admission control; a session creation takes a session
    /// ticket for the client's address group, held while the session is in the table.
    session_table(boost::asio::any_io_executor ex, std::shared_ptr<const config::config> cfg,
                  std::shared_ptr<upstream::shared_context> upstream_ctx, const core::clock& clock,
                  std::shared_ptr<limits::admission> admission);

    /// Handle one BOSH POST body from a client in address group `client`. `r` is called
    /// exactly once (possibly before this returns). Returns the handle to abort if the HTTP
    /// request goes away before its reply (a no-op once replied; empty when answered here).
    pending_request handle(std::string_view body_text, bool secure, const limits::address_key& client, responder r);
    /// The same, with the client's address for a new session's PROXY header upstream.
    /// `from_other_process`: the request came over an in-place restart's hop; an unknown sid
    /// is answered here, never handed on again (two processes would pass it back and forth).
    pending_request handle(std::string_view body_text, bool secure, const limits::address_key& client,
                           const std::optional<boost::asio::ip::tcp::endpoint>& client_address, responder r,
                           bool from_other_process = false);

    /// Terminate every session with system-shutdown and refuse new ones.
    void shutdown_all();
    /// Draining: session creations are answered HTTP 503 (Retry-After: 1, so that a load
    /// balancer retries another instance); the open sessions carry on.
    void set_draining(bool on);
    /// In-place restart: a request naming a sid this table does not know is offered to `h`
    /// first (the other process may own it); `h` returns true when it took the responder.
    using unknown_sid_handler = std::function<bool(std::string_view body, bool secure,
                                                   const std::optional<boost::asio::ip::tcp::endpoint>& client_address,
                                                   responder& r)>;
    void set_unknown_sid_handler(unknown_sid_handler h);
    /// The reply to a request for an unknown or ended session (item-not-found; counted).
    reply unknown_sid_reply() const;
    /// New sessions use this config from now on (SIGHUP reload).
    void set_config(std::shared_ptr<const config::config> cfg);
    /// Called by a session when its engine ended it.
    void remove(const std::string& sid);
    std::size_t size() const;

private:
    boost::asio::any_io_executor ex_;
    std::shared_ptr<upstream::shared_context> upstream_ctx_;
    const core::clock& clock_;
    mutable std::mutex mutex_;
    std::shared_ptr<const config::config> cfg_;
    std::shared_ptr<limits::admission> admission_;
    struct entry {
        std::shared_ptr<session> s;
        limits::ticket admitted; ///< released when the session leaves the table
    };
    /// Keyed by a view of the session's own sid (its engine's copy): the entry holds the
    /// session, so the view lives as long as the key (issue 9: no third copy of each sid).
    std::unordered_map<std::string_view, entry> sessions_;
    std::atomic<request_id> next_id_{1};
    bool shutting_down_ = false;
    std::atomic<bool> draining_{false};
    unknown_sid_handler unknown_sid_;
};

} // namespace boshgate::bosh
