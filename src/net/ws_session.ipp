// ws_session's definitions, instantiated once per transport by
// ws_session_plain.cpp and ws_session_tls.cpp.
#include "net/ws_session.hpp"

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "proto/messages.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/error.hpp>

namespace vigil::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
// How long a closing handshake may take before the socket is simply closed: a
// client that stopped reading cannot receive the close frame at all.
constexpr auto close_grace = std::chrono::seconds{5};
// A read buffer grown by one large message is given back once it is handled.
constexpr std::size_t keep_buffer_bytes = 512;
constexpr std::size_t read_chunk_bytes = 256;
// A gathered write stops adding messages at this many payload bytes.
constexpr std::size_t max_gather_bytes = 64 * 1024;
}  // namespace

template <class Layer>
ws_session<Layer>::ws_session(Layer&& layer, server_context& ctx, asio::ip::address remote, std::string user_id,
                              auth::claims const& claims, tls_context_ref tls)
    : tls_(std::move(tls)),
      ws_(std::move(layer)),
      ctx_(ctx),
      remote_(std::move(remote)),
      user_id_(std::move(user_id)),
      conn_id_(new_connection_id()),
      connected_at_ms_(now_ms()),
      last_heartbeat_ms_(connected_at_ms_),
      // A random phase: connections opened together (a reconnect storm) are
      // then not all pinged in the same sweep, which would queue tens of
      // thousands of pings ahead of alerts.
      last_ping_ms_(connected_at_ms_ - std::int64_t(random_below(std::uint64_t(ctx.config.ping_interval) * 1000))),
      token_expires_s_(claims.expires_at),
      // Live alerts held back (waiting for a page, or for a gap to be read)
      // are bounded like the outbox.
      sequencer_({ctx.config.limits.outbox_max_messages, ctx.config.limits.outbox_max_bytes}),
      rate_tokens_(ctx.config.limits.message_burst),
      rate_refilled_ms_(connected_at_ms_) {
    ++ctx_.live_sessions;
}

template <class Layer>
ws_session<Layer>::~ws_session() {
    ctx_.registry.detach(this);
    ctx_.limits.release(remote_);
    --ctx_.live_sessions;
}

template <class Layer>
void ws_session<Layer>::run(http_request req, std::optional<stream_position> since) {
    auto const& cfg = ctx_.config;
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds{10};   // also bounds the closing handshake
    timeouts.idle_timeout = websocket::stream_base::none();  // our heartbeat sweep decides
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.read_message_max(cfg.limits.max_message_bytes);
    if constexpr (!own_framing) {  // raw_websocket answers with Server: vigil and never fragments
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(http::field::server, "vigil"); }));
        // Beast allocates this buffer (4 KiB by default) for every open stream, but a
        // server only uses it to mask or compress, which vigil never does.
        ws_.write_buffer_bytes(256);
        ws_.auto_fragment(false);
    }
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::pong) last_heartbeat_ms_.store(now_ms(), std::memory_order_relaxed);
    });
    ws_.async_accept(req, [self = this->shared_from_this(), since = std::move(since)](beast::error_code ec) {
        self->on_accept(ec, since);
    });
}

template <class Layer>
void ws_session<Layer>::on_accept(beast::error_code ec, std::optional<stream_position> const& since) {
    if (ec) return finish("handshake failed");
    open_ = true;
    metrics::global().connections_opened.inc();
    if (pending_close_) {  // closed (e.g. shutdown) while the handshake ran
        do_close();
        return do_read();
    }
    log::info("ws.open", {{"conn", conn_id_}, {"user_id", user_id_}});
    // open() attaches at once, so monitoring and replacement see the connection
    // as soon as its handshake is done; the sequencer holds live alerts back
    // until the first page, which the alert service reads in its own order.
    ctx_.alerts.open(this->shared_from_this(), since);
    do_read();
}

// Reads in small steps: the buffer a pending read prepares stays allocated
// while the connection idles, so it is kept at 256 bytes rather than Beast's
// 1.5 KiB; larger messages grow it, and it shrinks back after them. Our own
// framing prepares nothing while it waits and hands over whole messages: the
// buffer is then given back after every message.
template <class Layer>
void ws_session<Layer>::do_read() {
    if constexpr (own_framing) buffer_.shrink_to_fit();  // empty here: frees it
    ws_.async_read_some(
        buffer_, read_chunk_bytes,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

template <class Layer>
void ws_session<Layer>::on_read(beast::error_code ec, std::size_t) {
    if (ec) {
        if (ec == websocket::error::message_too_big) {
            // Beast has already sent close 1009.
            log::info("ws.message_too_big", {{"conn", conn_id_}, {"user_id", user_id_}});
        }
        return finish(ec == websocket::error::closed ? "closed by client" : "read failed");
    }
    auto const now = now_ms();
    last_heartbeat_ms_.store(now, std::memory_order_relaxed);
    if (!ws_.is_message_done()) return do_read();  // more frames of this message
    if (closing_.load(std::memory_order_relaxed)) {
        buffer_.consume(buffer_.size());
        return do_read();  // drain until the peer answers our close
    }
    if (ws_.got_binary()) {
        start_close(close_code::unsupported_data, "binary messages are not accepted");
        buffer_.consume(buffer_.size());
        return do_read();
    }
    if (!within_rate(now)) {
        start_close(close_code::policy_violation, "message rate limit exceeded");
        buffer_.consume(buffer_.size());
        return do_read();
    }
    auto const data = buffer_.cdata();
    handle_message({static_cast<char const*>(data.data()), data.size()});
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > keep_buffer_bytes) buffer_.shrink_to_fit();
    do_read();
}

template <class Layer>
bool ws_session<Layer>::within_rate(std::int64_t now) {
    auto const& l = ctx_.config.limits;
    rate_tokens_ =
        std::min(l.message_burst, rate_tokens_ + double(now - rate_refilled_ms_) * l.messages_per_second / 1000.0);
    rate_refilled_ms_ = now;
    if (rate_tokens_ < 1.0) return false;
    rate_tokens_ -= 1.0;
    return true;
}

template <class Layer>
void ws_session<Layer>::handle_message(std::string_view text) {
    auto const msg = proto::parse_client_message(text);
    if (!msg) {
        auto const code = proto::code_name(msg.error());
        std::string_view detail =
            "message must be a JSON object with a type of ping, pong, ack, resolve, reopen or refresh";
        if (msg.error() == proto::message_error::invalid_ack) detail = "ack needs a string alert_id";
        if (msg.error() == proto::message_error::invalid_resolve)
            detail =
                "resolve needs a string alert_id, an outcome of real, false_alarm or test, and a note of at most "
                "1000 characters";
        if (msg.error() == proto::message_error::invalid_reopen) detail = "reopen needs a string alert_id";
        if (msg.error() == proto::message_error::invalid_refresh) detail = "refresh needs a string token";
        return send(std::make_shared<std::string const>(proto::error_message(code, detail)));
    }
    switch (msg->type) {
        case proto::client_message_type::ping: {
            static auto const pong = std::make_shared<std::string const>(proto::pong_message);
            return send(pong);
        }
        case proto::client_message_type::pong: answers_json_pings_ = true; return;  // the heartbeat is already recorded
        case proto::client_message_type::ack:
        case proto::client_message_type::resolve:
        case proto::client_message_type::reopen: {
            std::weak_ptr<ws_session> weak = this->shared_from_this();
            auto const executor = ws_.get_executor();
            auto const kind = msg->type == proto::client_message_type::ack       ? transition_kind::acknowledge
                              : msg->type == proto::client_message_type::resolve ? transition_kind::resolve
                                                                                 : transition_kind::reopen;
            ctx_.alerts.transition(
                transition_request{msg->alert_id, user_id_, user_id_, kind, msg->outcome, msg->note},
                [weak, executor, kind, id = msg->alert_id](transition_outcome_or_error r) {
                    std::string reply;
                    std::string_view const failed = kind == transition_kind::acknowledge ? "ack_failed"
                                                    : kind == transition_kind::resolve   ? "resolve_failed"
                                                                                         : "reopen_failed";
                    if (!r)
                        reply = proto::error_message(failed, r.error().detail, id);
                    else if (r->outcome == transition_outcome::not_found)
                        reply = proto::error_message("unknown_alert", "no such alert for this user", id);
                    else if (r->outcome == transition_outcome::invalid)
                        reply = proto::error_message("invalid_transition",
                                                     kind == transition_kind::resolve ? "the alert is already resolved"
                                                                                      : "the alert is already open",
                                                     id);
                    else if (kind == transition_kind::acknowledge)
                        reply = proto::ack_ok_message(id);
                    else
                        reply = kind == transition_kind::resolve ? proto::resolve_ok_message(id)
                                                                 : proto::reopen_ok_message(id);
                    asio::post(executor, [weak, m = std::make_shared<std::string const>(std::move(reply))] {
                        if (auto self = weak.lock()) self->send(m);
                    });
                });
            return;
        }
        case proto::client_message_type::refresh: {
            auto const claims = ctx_.verifier.verify(msg->token, now_ms() / 1000);
            if (!claims)
                return send(std::make_shared<std::string const>(proto::error_message(
                    "invalid_refresh", auth::error_code_name(auth::auth_error(claims.error().value())))));
            if (claims->subject != user_id_)
                return send(std::make_shared<std::string const>(
                    proto::error_message("invalid_refresh", "token subject does not match user_id")));
            token_expires_s_.store(claims->expires_at, std::memory_order_relaxed);
            return send(std::make_shared<std::string const>(proto::refresh_ok_message(claims->expires_at)));
        }
    }
}

template <class Layer>
bool ws_session<Layer>::deliver(sequenced_message message) {
    if (closing_.load(std::memory_order_relaxed)) return false;
    // A message outside the seq order (alert_updated) queues behind what was
    // posted before it, such as the answer to the change it reports.
    if (message.seq == 0) {
        asio::post(ws_.get_executor(), [self = this->shared_from_this(), m = std::move(message)]() mutable {
            self->on_live(std::move(m));
        });
        return true;
    }
    // At once when the commit runs on this session's own thread (a drain on
    // its work site): a post from there would wait in the thread's private
    // queue until the drain returns, behind alerts the worker may post
    // meanwhile, and arrive out of seq order, which the sequencer would
    // repair with a needless store read.
    asio::dispatch(ws_.get_executor(), [self = this->shared_from_this(), m = std::move(message)]() mutable {
        self->on_live(std::move(m));
    });
    return true;
}

template <class Layer>
void ws_session<Layer>::replay(replay_delivery page) {
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), p = std::move(page)]() mutable { self->on_replay(p); });
}

template <class Layer>
void ws_session<Layer>::on_live(sequenced_message message) {
    if (closing_.load(std::memory_order_relaxed) || finished_) return;
    if (message.seq == 0) return send(std::move(message.text));
    sequencer_.on_live(std::move(message));
    pump();
}

template <class Layer>
void ws_session<Layer>::on_replay(replay_delivery& page) {
    if (closing_.load(std::memory_order_relaxed) || finished_) return;
    sequencer_.on_page(std::move(page));
    pump();
}

// Carries out the sequencer's steps: live alerts go to the outbox (whose cap
// makes a client that cannot keep up a slow consumer), replayed ones only
// while it is at most half full, so that a backlog of any length is pulled
// from the store page by page as the client takes it.
template <class Layer>
void ws_session<Layer>::pump() {
    auto const& l = ctx_.config.limits;
    for (;;) {
        if (closing_.load(std::memory_order_relaxed) || finished_) return;
        bool const room = outbox_.size() < l.outbox_max_messages / 2 && outbox_bytes_ < l.outbox_max_bytes / 2;
        auto step = sequencer_.next(room);
        switch (step.kind) {
            case delivery_sequencer::step_kind::idle:
                if (!writing_ && open_ && !outbox_.empty()) do_write();
                return;
            case delivery_sequencer::step_kind::send:
                if (step.replayed)
                    push(std::move(step.message.text));
                else
                    send(std::move(step.message.text), step.message.received_ns);
                break;
            case delivery_sequencer::step_kind::fetch:
                ctx_.alerts.fetch(this->weak_from_this(), step.after, step.unacked_only);
                break;
            case delivery_sequencer::step_kind::overflow:
                log::warn("ws.slow_consumer", {{"conn", conn_id_}, {"user_id", user_id_}, {"held", sequencer_.held()}});
                return start_close(close_code::slow_consumer,
                                   "slow consumer: alerts arrive faster than the replay drains");
        }
    }
}

template <class Layer>
void ws_session<Layer>::send(shared_message message, std::int64_t received_ns) {
    if (closing_.load(std::memory_order_relaxed) || finished_) return;
    auto const& l = ctx_.config.limits;
    std::size_t const size = message ? message->size() : 0;
    if (outbox_.size() >= l.outbox_max_messages || outbox_bytes_ + size > l.outbox_max_bytes) {
        log::warn(
            "ws.slow_consumer",
            {{"conn", conn_id_}, {"user_id", user_id_}, {"queued", outbox_.size()}, {"queued_bytes", outbox_bytes_}});
        return start_close(close_code::slow_consumer, "slow consumer: outgoing queue full");
    }
    push(std::move(message), received_ns);
    if (!writing_ && open_) do_write();
}

template <class Layer>
void ws_session<Layer>::push(shared_message message, std::int64_t received_ns) {
    outbox_bytes_ += message ? message->size() : 0;
    outbox_.push_back({std::move(message), metrics::now_ns(), received_ns});
    metrics::global().outbox_messages.add(1);
}

template <class Layer>
void ws_session<Layer>::send_ping() {
    static auto const ping = std::make_shared<std::string const>(proto::ping_message);
    send(ping);  // the quick reference's JSON heartbeat, answered by its clients
    // A protocol ping, answered by every WebSocket stack (wscat, browsers),
    // until the client shows it answers the JSON one: then one frame is enough.
    if (!answers_json_pings_) send(nullptr);
}

template <class Layer>
void ws_session<Layer>::do_write() {
    writing_ = true;
    in_flight_messages_ = 1;
    auto handler = [self = this->shared_from_this()](beast::error_code ec, std::size_t n) { self->on_write(ec, n); };
    if constexpr (own_framing) {
        // Whatever queued up (a replay, a burst for one user, a JSON ping with
        // its protocol ping) leaves in one gathered write.
        if (outbox_.size() > 1) {
            std::vector<raw_websocket::frame_out> frames;
            std::size_t bytes = 0;
            for (auto it = outbox_.begin(); it != outbox_.end() && frames.size() < raw_websocket::max_frames_per_write;
                 ++it) {
                std::size_t const size = it->text ? it->text->size() : 0;
                if (!frames.empty() && bytes + size > max_gather_bytes) break;
                bytes += size;
                frames.push_back(it->text ? raw_websocket::frame_out{ws::opcode::text, asio::buffer(*it->text)}
                                          : raw_websocket::frame_out{ws::opcode::ping, {}});
            }
            in_flight_messages_ = std::uint8_t(frames.size());
            return ws_.async_write_frames(std::move(frames), std::move(handler));
        }
    }
    auto const& next = outbox_.front();
    if (!next.text) return ws_.async_ping({}, [h = std::move(handler)](beast::error_code ec) { h(ec, 0); });
    ws_.text(true);
    ws_.async_write(asio::buffer(*next.text), std::move(handler));
}

template <class Layer>
void ws_session<Layer>::on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return finish("write failed");
    auto const now = metrics::now_ns();
    auto& m = metrics::global();
    for (; in_flight_messages_ > 0 && !outbox_.empty(); --in_flight_messages_) {
        auto const& sent = outbox_.front();
        m.outbox_wait.observe_ns(now - sent.queued_ns);
        if (sent.received_ns) m.publish_to_delivery.observe_ns(now - sent.received_ns);
        outbox_bytes_ -= sent.text ? sent.text->size() : 0;
        outbox_.pop_front();
        m.outbox_messages.add(-1);
    }
    in_flight_messages_ = 0;
    if (pending_close_) return do_close();
    pump();  // replayed alerts waiting for room, and the next page
}

template <class Layer>
void ws_session<Layer>::close(std::uint16_t code, std::string_view reason) {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, r = std::string{reason}]() mutable {
        self->start_close(code, std::move(r));
    });
}

// Drops every queued message but those being written (their buffers must live
// until the write completes).
template <class Layer>
void ws_session<Layer>::drop_queued() {
    std::size_t const keep = writing_ ? std::min<std::size_t>(in_flight_messages_, outbox_.size()) : 0;
    metrics::global().outbox_messages.add(-std::int64_t(outbox_.size() - keep));
    outbox_.keep_first(keep);
    outbox_bytes_ = 0;
    for (auto const& o : outbox_) outbox_bytes_ += o.text ? o.text->size() : 0;
    sequencer_ = delivery_sequencer{{}};  // frees what it holds
}

template <class Layer>
void ws_session<Layer>::start_close(std::uint16_t code, std::string reason) {
    if (finished_ || pending_close_) return;
    closing_.store(true, std::memory_order_relaxed);
    ctx_.registry.detach(this);
    log::info("ws.closing", {{"conn", conn_id_}, {"user_id", user_id_}, {"code", code}, {"reason", reason}});
    if (code == close_code::heartbeat_timeout) metrics::global().heartbeat_timeouts.inc();
    if (code == close_code::slow_consumer) metrics::global().slow_consumers.inc();
    drop_queued();
    pending_close_.emplace(code, std::move(reason));
    close_deadline_ = std::make_unique<asio::steady_timer>(ws_.get_executor(), close_grace);
    close_deadline_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
        if (ec || self->finished_) return;
        close_socket(self->ws_.next_layer());  // cancels the pending read and write
    });
    if (!writing_ && open_) do_close();
}

template <class Layer>
void ws_session<Layer>::do_close() {
    websocket::close_reason why{pending_close_->first};
    why.reason = pending_close_->second;
    writing_ = true;  // nothing else may write now
    in_flight_messages_ = 0;
    ws_.async_close(why, [self = this->shared_from_this()](beast::error_code) {
        // The read loop sees the peer's close frame (or the deadline) and finishes.
    });
}

template <class Layer>
void ws_session<Layer>::finish(std::string_view why) {
    if (finished_) return;
    finished_ = true;
    closing_.store(true, std::memory_order_relaxed);
    ctx_.registry.detach(this);
    if (close_deadline_) close_deadline_->cancel();
    drop_queued();
    std::uint16_t const peer_code = ws_.reason().code;
    if (open_)
        metrics::global().connections_closed.inc(std::to_string(pending_close_ ? pending_close_->first
                                                                : peer_code    ? peer_code
                                                                               : 1006));
    if (writing_) {
        // A write may wait forever on a peer that stopped reading: cut it.
        close_socket(ws_.next_layer());
    }
    if (open_) {
        log::info("ws.closed", {{"conn", conn_id_},
                                {"user_id", user_id_},
                                {"why", why},
                                {"peer_code", static_cast<int>(peer_code)},
                                {"seconds", (now_ms() - connected_at_ms_) / 1000}});
    }
}

template <class Layer>
connection_stats ws_session<Layer>::stats() const {
    return {user_id_, connected_at_ms_, last_heartbeat_ms_.load(std::memory_order_relaxed), conn_id_};
}

// What the heartbeat sweep has to do for this connection now, in order of
// precedence. Reads only atomics and configuration (see subscriber::tick_due).
template <class Layer>
auto ws_session<Layer>::due_action(std::int64_t now) const noexcept -> tick_action {
    if (closing_.load(std::memory_order_relaxed)) return tick_action::none;
    auto const& cfg = ctx_.config;
    if (now - last_heartbeat_ms_.load(std::memory_order_relaxed) > std::int64_t(cfg.heartbeat_timeout) * 1000)
        return tick_action::heartbeat_timeout;
    if (cfg.jwt.close_on_expiry && token_expires_s_.load(std::memory_order_relaxed) * 1000 <= now)
        return tick_action::token_expired;
    if (now - last_ping_ms_.load(std::memory_order_relaxed) >= std::int64_t(cfg.ping_interval) * 1000)
        return tick_action::ping;
    return tick_action::none;
}

template <class Layer>
bool ws_session<Layer>::tick_due(std::int64_t now) const noexcept {
    return due_action(now) != tick_action::none;
}

template <class Layer>
void ws_session<Layer>::on_tick(std::int64_t now) {
    switch (due_action(now)) {
        case tick_action::none: return;
        case tick_action::heartbeat_timeout: return close(close_code::heartbeat_timeout, "heartbeat timeout");
        case tick_action::token_expired: return close(close_code::token_expired, "token expired");
        case tick_action::ping:
            last_ping_ms_.store(now, std::memory_order_relaxed);
            asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->send_ping(); });
            return;
    }
}

}  // namespace vigil::net
