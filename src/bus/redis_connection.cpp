#include "bus/redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <stdexcept>
#include <utility>

namespace vigil {

namespace net = boost::asio;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;

namespace {

class category final : public boost::system::error_category {
public:
    char const* name() const noexcept override { return "redis"; }
    std::string message(int ev) const override {
        switch (redis_errc(ev)) {
            case redis_errc::connect_failed: return "cannot connect to Redis";
            case redis_errc::connect_timeout: return "Redis connection not ready in time";
            case redis_errc::handshake_failed: return "Redis refused the login or the database";
            case redis_errc::timeout: return "no reply from Redis in time";
            case redis_errc::disconnected: return "Redis connection lost";
            case redis_errc::protocol: return "unexpected reply from Redis";
        }
        return "unknown Redis error";
    }
};

std::string_view reply_text(redisReply const* r) {
    return r && (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
               ? std::string_view(r->str, r->len)
               : std::string_view{};
}

}  // namespace

boost::system::error_category const& redis_category() noexcept {
    static category const c;
    return c;
}

// Lives while hiredis may call into it: hiredis holds raw pointers to it (the
// event hooks' data, the callbacks' privdata, the context's data), so while a
// context exists `self_` keeps it alive; hiredis's cleanup hook hands that
// reference to a posted on_gone(), which runs once hiredis has unwound.
struct redis_connection::impl : std::enable_shared_from_this<impl> {
    enum class state : std::uint8_t { idle, resolving, connecting, handshaking, ready, down, closed };
    struct pending {
        clock_type::time_point sent;
        reply_handler handler;
        std::size_t subscriptions = 0;  // confirmations still awaited, for SUBSCRIBE
    };

    impl(net::any_io_executor const& ex, options o)
        : ex_(ex), opts_(o), resolver_(ex), socket_(ex), connect_timer_(ex), reply_timer_(ex) {}

    net::any_io_executor ex_;
    options opts_;
    net::ip::tcp::resolver resolver_;
    net::posix::stream_descriptor socket_;
    net::steady_timer connect_timer_;
    net::steady_timer reply_timer_;  // the oldest command's deadline
    state state_ = state::idle;
    redisAsyncContext* ctx_ = nullptr;
    std::shared_ptr<impl> self_;
    redis_endpoint endpoint_;
    std::vector<std::string> addresses_;  // resolved, tried in order
    std::size_t next_address_ = 0;
    std::string address_;  // the one connected to
    bool want_read_ = false, want_write_ = false;
    bool read_waiting_ = false, write_waiting_ = false;
    bool reply_timer_armed_ = false;
    bool in_connect_callback_ = false;  // hiredis must not be freed from there
    bool failing_ = false;              // the context is being (or will be) freed
    bool subscribed_ = false;
    std::deque<pending> pending_;
    error_code fail_ec_;
    std::string fail_detail_;
    state_handler on_ready_, on_down_;
    message_handler on_message_;

    // ---- connecting

    void connect(redis_endpoint const& ep, state_handler on_ready, state_handler on_down) {
        if (state_ != state::idle) throw std::logic_error("redis_connection: connect() is called once");
        endpoint_ = ep;
        on_ready_ = std::move(on_ready);
        on_down_ = std::move(on_down);
        state_ = state::resolving;
        connect_timer_.expires_after(opts_.connect_timeout);
        connect_timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) self->on_connect_timeout();
        });
        resolver_.async_resolve(
            ep.host, std::to_string(ep.port), net::ip::resolver_base::numeric_service,
            [self = shared_from_this()](error_code ec, net::ip::tcp::resolver::results_type const& r) {
                self->on_resolved(ec, r);
            });
    }

    void on_resolved(error_code ec, net::ip::tcp::resolver::results_type const& results) {
        if (state_ != state::resolving) return;
        if (ec || results.empty())
            return connect_failed_early(redis_errc::connect_failed,
                                        "cannot resolve " + endpoint_.host + ": " + ec.message());
        for (auto const& r : results) addresses_.push_back(r.endpoint().address().to_string());
        try_next_address();
    }

    // Each resolved address in turn ("localhost" may give ::1 first to a
    // server listening on 127.0.0.1 only), within the one connect deadline.
    void try_next_address() {
        std::string detail = "no address";
        while (next_address_ < addresses_.size()) {
            auto const& address = addresses_[next_address_++];
            // Non-blocking connect(2) on a numeric address: hiredis does not block here.
            ctx_ = redisAsyncConnect(address.c_str(), endpoint_.port);
            if (!ctx_) {
                detail = "out of memory";
                continue;
            }
            if (ctx_->err) {
                detail = address + ": " + ctx_->errstr;
                redisAsyncFree(ctx_);  // no hooks attached yet: freed at once, nothing calls back
                ctx_ = nullptr;
                continue;
            }
            attach(address);
            return;
        }
        connect_failed_early(redis_errc::connect_failed, detail);
    }

    void attach(std::string const& address) {
        self_ = shared_from_this();
        state_ = state::connecting;
        failing_ = false;
        fail_ec_ = {};
        fail_detail_.clear();
        address_ = address;
        ctx_->data = this;
        ctx_->ev.data = this;
        ctx_->ev.addRead = &impl::hook_add_read;
        ctx_->ev.delRead = &impl::hook_del_read;
        ctx_->ev.addWrite = &impl::hook_add_write;
        ctx_->ev.delWrite = &impl::hook_del_write;
        ctx_->ev.cleanup = &impl::hook_cleanup;
        error_code assign_ec;
        socket_.assign(ctx_->c.fd, assign_ec);
        if (assign_ec) return fail(redis_errc::connect_failed, "cannot watch the socket: " + assign_ec.message());
        // Connected once the socket is writable; hiredis asks for that here.
        redisAsyncSetConnectCallback(ctx_, &impl::on_connect_cb);
    }

    // A failure before hiredis has a context: nothing of hiredis's to unwind.
    void connect_failed_early(redis_errc ec, std::string const& detail) {
        state_ = state::down;
        connect_timer_.cancel();
        on_down_ = nullptr;
        if (auto h = std::exchange(on_ready_, nullptr)) h(ec, detail);
    }

    void on_connect_timeout() {
        auto const detail = "not ready within " + std::to_string(opts_.connect_timeout.count()) + " ms";
        if (state_ == state::resolving) {
            state_ = state::down;  // the resolver's handler sees this and returns
            resolver_.cancel();
            connect_failed_early(redis_errc::connect_timeout, detail);
        } else if (state_ == state::connecting || state_ == state::handshaking) {
            fail(redis_errc::connect_timeout, detail);
        }
    }

    static void on_connect_cb(redisAsyncContext const* ac, int status) {
        auto* self = static_cast<impl*>(ac->data);
        if (status != REDIS_OK) {
            // hiredis frees the context right after this returns; the cleanup hook reports it.
            self->failing_ = true;
            self->fail_ec_ = redis_errc::connect_failed;
            self->fail_detail_ = self->address_ + ": " + ac->c.errstr;
            return;
        }
        self->in_connect_callback_ = true;
        self->handshake();
        self->in_connect_callback_ = false;
    }

    void handshake() {
        state_ = state::handshaking;
        redisEnableKeepAlive(&ctx_->c);  // a peer that vanished is noticed even on an idle connection
        auto step = [self = this](std::string what) {
            return [self, what = std::move(what)](error_code ec, redisReply const* r) {
                if (ec) return;  // on_gone reports the connection
                if (r->type == REDIS_REPLY_ERROR)
                    self->fail(redis_errc::handshake_failed, what + ": " + std::string(reply_text(r)));
            };
        };
        if (!endpoint_.password.empty()) {
            if (endpoint_.username.empty())
                send({"AUTH", endpoint_.password}, step("AUTH"));
            else
                send({"AUTH", endpoint_.username, endpoint_.password}, step("AUTH"));
        }
        if (endpoint_.db != 0) {
            std::string const db = std::to_string(endpoint_.db);
            send({"SELECT", db}, step("SELECT " + db));
        }
        send({"PING"}, [self = this](error_code ec, redisReply const* r) {
            if (ec || self->failing_) return;
            if (r->type == REDIS_REPLY_ERROR)
                return self->fail(redis_errc::handshake_failed, "PING: " + std::string(reply_text(r)));
            self->state_ = state::ready;
            self->connect_timer_.cancel();
            if (auto h = std::exchange(self->on_ready_, nullptr)) h({}, {});
        });
    }

    // ---- commands

    bool send(std::initializer_list<std::string_view> args, reply_handler handler) {
        return send(std::span<std::string_view const>(args.begin(), args.size()), std::move(handler));
    }

    bool send(std::span<std::string_view const> args, reply_handler handler, redisCallbackFn* fn = &impl::on_reply_cb,
              std::size_t subscriptions = 0) {
        if (!ctx_ || failing_ || args.empty()) return false;
        std::vector<char const*> argv(args.size());
        std::vector<std::size_t> lens(args.size());
        for (std::size_t i = 0; i < args.size(); ++i) {
            argv[i] = args[i].data();
            lens[i] = args[i].size();
        }
        if (redisAsyncCommandArgv(ctx_, fn, this, int(args.size()), argv.data(), lens.data()) != REDIS_OK) return false;
        pending_.push_back({clock_type::now(), std::move(handler), subscriptions});
        arm_reply_timer();
        return true;
    }

    bool usable() const { return state_ == state::ready && !failing_ && !subscribed_; }

    bool command(std::span<std::string_view const> args, reply_handler handler) {
        if (!usable() || pending_.size() >= opts_.max_in_flight) return false;
        return send(args, std::move(handler));
    }

    bool formatted(std::string_view resp, reply_handler handler) {
        if (!usable() || pending_.size() >= opts_.max_in_flight || resp.empty()) return false;
        if (redisAsyncFormattedCommand(ctx_, &impl::on_reply_cb, this, resp.data(), resp.size()) != REDIS_OK)
            return false;
        pending_.push_back({clock_type::now(), std::move(handler), 0});
        arm_reply_timer();
        return true;
    }

    bool subscribe(std::vector<std::string> const& channels, message_handler on_message,
                   std::function<void(error_code)> confirmed) {
        if (!usable() || channels.empty()) return false;
        std::vector<std::string_view> args{"SUBSCRIBE"};
        args.insert(args.end(), channels.begin(), channels.end());
        on_message_ = std::move(on_message);
        auto done = [confirmed = std::move(confirmed)](error_code ec, redisReply const*) { confirmed(ec); };
        if (!send(args, std::move(done), &impl::on_message_cb, channels.size())) return false;
        subscribed_ = true;
        return true;
    }

    // Replies arrive in the order the commands were sent.
    static void on_reply_cb(redisAsyncContext*, void* r, void* privdata) {
        auto* self = static_cast<impl*>(privdata);
        // No reply: the context is being freed; on_gone answers what waits.
        if (!r || self->state_ == state::closed || self->pending_.empty()) return;
        auto p = std::move(self->pending_.front());
        self->pending_.pop_front();
        if (p.handler) p.handler({}, static_cast<redisReply const*>(r));
    }

    // Everything a subscribed connection receives for its channels.
    static void on_message_cb(redisAsyncContext*, void* r, void* privdata) {
        auto* self = static_cast<impl*>(privdata);
        if (!r || self->state_ == state::closed || self->failing_) return;
        auto const* reply = static_cast<redisReply const*>(r);
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
            return self->fail(redis_errc::protocol, reply->type == REDIS_REPLY_ERROR
                                                        ? "SUBSCRIBE: " + std::string(reply_text(reply))
                                                        : std::string("unexpected reply while subscribed"));
        }
        auto const kind = reply_text(reply->element[0]);
        if (kind == "message") {
            auto const* ch = reply->element[1];
            auto const* payload = reply->element[2];
            if (ch->type == REDIS_REPLY_STRING && payload->type == REDIS_REPLY_STRING && self->on_message_)
                self->on_message_(std::string_view(ch->str, ch->len), std::string_view(payload->str, payload->len));
        } else if (kind == "subscribe") {
            if (self->pending_.empty() || self->pending_.front().subscriptions == 0)
                return self->fail(redis_errc::protocol, "a subscription nobody asked for");
            if (--self->pending_.front().subscriptions > 0) return;
            auto p = std::move(self->pending_.front());
            self->pending_.pop_front();
            if (p.handler) p.handler({}, reply);
        }
    }

    // hiredis 0.14 has no command timeout: one timer watches the oldest
    // command (replies come in order), re-armed lazily rather than per reply.
    void arm_reply_timer() {
        if (reply_timer_armed_ || pending_.empty() || state_ == state::closed) return;
        reply_timer_armed_ = true;
        reply_timer_.expires_at(pending_.front().sent + opts_.command_timeout);
        reply_timer_.async_wait([self = shared_from_this()](error_code ec) {
            self->reply_timer_armed_ = false;
            if (ec || !self->ctx_ || self->state_ == state::closed) return;
            if (self->pending_.empty()) return;
            if (clock_type::now() >= self->pending_.front().sent + self->opts_.command_timeout)
                return self->fail(redis_errc::timeout,
                                  "no reply within " + std::to_string(self->opts_.command_timeout.count()) + " ms");
            self->arm_reply_timer();
        });
    }

    // ---- failing and closing

    // Drops the context. Inside a reply callback hiredis defers the free until
    // the callback returns; inside the connect callback it would not, so the
    // free waits for the next turn of the loop.
    void fail(redis_errc ec, std::string detail) {
        if (!ctx_ || failing_) return;
        failing_ = true;
        fail_ec_ = ec;
        fail_detail_ = std::move(detail);
        free_context();
    }

    void free_context() {
        if (in_connect_callback_) {
            net::post(ex_, [self = shared_from_this()] {
                if (self->ctx_) redisAsyncFree(self->ctx_);
            });
        } else {
            redisAsyncFree(ctx_);
        }
    }

    void close() {
        if (state_ == state::closed) return;
        state_ = state::closed;
        error_code ignored;
        resolver_.cancel();
        connect_timer_.cancel();
        reply_timer_.cancel();
        pending_.clear();
        if (ctx_ && !failing_) {
            failing_ = true;
            free_context();
        }
        // The handlers may be running right now (close() from inside one):
        // they are destroyed on a later turn.
        net::post(ex_, [self = shared_from_this()] { self->drop_handlers(); });
    }

    void drop_handlers() {
        on_ready_ = nullptr;
        on_down_ = nullptr;
        on_message_ = nullptr;
        pending_.clear();
    }

    // Called by hiredis from redisAsyncFree, whatever started it (an error, a
    // timeout, close()), just before it closes the descriptor and frees the
    // context. Nothing of hiredis's calls back after it.
    void on_cleanup() {
        if (fail_detail_.empty() && ctx_ && ctx_->c.err) fail_detail_ = ctx_->c.errstr;
        ctx_ = nullptr;
        want_read_ = want_write_ = false;
        if (socket_.is_open()) socket_.release();  // hiredis owns the descriptor and closes it
        auto self = self_ ? std::move(self_) : shared_from_this();
        net::post(ex_, [self = std::move(self)] { self->on_gone(); });
    }

    void on_gone() {
        reply_timer_.cancel();
        auto const was = state_;
        if (was == state::connecting && fail_ec_ == redis_errc::connect_failed && next_address_ < addresses_.size())
            return try_next_address();  // TCP failed on this address; the connect deadline still runs
        connect_timer_.cancel();
        auto pending = std::move(pending_);
        pending_.clear();
        if (was == state::closed) return drop_handlers();
        state_ = state::down;
        error_code const ec =
            fail_ec_ ? fail_ec_
                     : error_code(was == state::ready ? redis_errc::disconnected : redis_errc::connect_failed);
        std::string const detail = fail_detail_.empty() ? ec.message() : fail_detail_;
        for (auto& p : pending) {
            if (state_ == state::closed) return;
            if (p.handler) p.handler(ec, nullptr);
        }
        if (state_ == state::closed) return;
        auto ready = std::exchange(on_ready_, nullptr);
        auto down = std::exchange(on_down_, nullptr);
        on_message_ = nullptr;
        if (was == state::ready) {
            if (down) down(ec, detail);
        } else if (ready) {
            ready(ec, detail);
        }
    }

    // ---- hiredis's event hooks: what it wants to wait for

    void arm_read() {
        if (read_waiting_ || !ctx_) return;
        read_waiting_ = true;
        socket_.async_wait(net::posix::stream_descriptor::wait_read, [self = shared_from_this()](error_code ec) {
            self->read_waiting_ = false;
            if (ec || !self->ctx_ || !self->want_read_) return;
            redisAsyncHandleRead(self->ctx_);
        });
    }

    void arm_write() {
        if (write_waiting_ || !ctx_) return;
        write_waiting_ = true;
        socket_.async_wait(net::posix::stream_descriptor::wait_write, [self = shared_from_this()](error_code ec) {
            self->write_waiting_ = false;
            if (ec || !self->ctx_ || !self->want_write_) return;
            redisAsyncHandleWrite(self->ctx_);
        });
    }

    static void hook_add_read(void* p) {
        auto* self = static_cast<impl*>(p);
        self->want_read_ = true;
        self->arm_read();
    }
    static void hook_del_read(void* p) { static_cast<impl*>(p)->want_read_ = false; }
    static void hook_add_write(void* p) {
        auto* self = static_cast<impl*>(p);
        self->want_write_ = true;
        self->arm_write();
    }
    static void hook_del_write(void* p) { static_cast<impl*>(p)->want_write_ = false; }
    static void hook_cleanup(void* p) { static_cast<impl*>(p)->on_cleanup(); }
};

redis_connection::redis_connection(net::any_io_executor const& executor, options opts)
    : impl_(std::make_shared<impl>(executor, opts)) {}

redis_connection::~redis_connection() { close(); }

redis_connection::redis_connection(redis_connection&&) noexcept = default;

redis_connection& redis_connection::operator=(redis_connection&& other) noexcept {
    if (this != &other) {
        close();
        impl_ = std::move(other.impl_);
    }
    return *this;
}

void redis_connection::connect(redis_endpoint const& endpoint, state_handler on_ready, state_handler on_down) {
    impl_->connect(endpoint, std::move(on_ready), std::move(on_down));
}

bool redis_connection::command(std::span<std::string_view const> args, reply_handler handler) {
    return impl_ && impl_->command(args, std::move(handler));
}

bool redis_connection::formatted(std::string_view resp, reply_handler handler) {
    return impl_ && impl_->formatted(resp, std::move(handler));
}

bool redis_connection::subscribe(std::vector<std::string> const& channels, message_handler on_message,
                                 std::function<void(error_code)> confirmed) {
    return impl_ && impl_->subscribe(channels, std::move(on_message), std::move(confirmed));
}

void redis_connection::close() {
    if (impl_) impl_->close();
}

bool redis_connection::ready() const noexcept {
    return impl_ && impl_->state_ == impl::state::ready && !impl_->failing_;
}

std::size_t redis_connection::in_flight() const noexcept { return impl_ ? impl_->pending_.size() : 0; }

}  // namespace vigil
