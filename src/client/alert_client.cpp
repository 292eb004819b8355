#include "client/alert_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>  // teardown of a TLS stream
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <set>

namespace vigil::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

std::chrono::milliseconds backoff_delay(int attempt, client_options const& o, double u) {
    double base = double(o.initial_reconnect_delay.count());
    for (int i = 1; i < attempt && base < double(o.max_reconnect_delay.count()); ++i) base *= 2;
    base = std::min(base, double(o.max_reconnect_delay.count()));
    double const d = base * (1.0 - o.jitter + 2.0 * o.jitter * u);
    return std::chrono::milliseconds{std::int64_t(std::min(d, double(o.max_reconnect_delay.count())))};
}

// What alert_client's public members need; the session over a plain or a TLS
// socket (below) does the rest.
struct alert_client::impl {
    virtual ~impl() = default;
    virtual void start() = 0;                          // on ioc: connect
    virtual void finish(std::string why) = 0;          // on ioc: stop for good
    virtual void queue_ack(std::string alert_id) = 0;  // on ioc

    client_options options;
    alert_handler on_alert;
    status_handler on_status;
    asio::io_context ioc{1};
    std::atomic<std::uint64_t> last_seq{0};
    mutable std::mutex epoch_mutex;
    std::string epoch;  // of last_seq (epoch_mutex)

    std::string current_epoch() const {
        std::lock_guard lock{epoch_mutex};
        return epoch;
    }
};

namespace {

using tls_socket = asio::ssl::stream<tcp::socket>;

template <class Next>  // tcp::socket (ws://) or tls_socket (wss://)
struct session final : alert_client::impl, std::enable_shared_from_this<session<Next>> {
    using std::enable_shared_from_this<session<Next>>::shared_from_this;
    static constexpr bool tls = std::is_same_v<Next, tls_socket>;

    std::optional<asio::ssl::context> tls_context;  // wss:// only
    tcp::resolver resolver{ioc};
    std::optional<websocket::stream<Next>> ws;
    beast::flat_buffer buffer;
    asio::steady_timer retry_timer{ioc};
    asio::steady_timer heartbeat_timer{ioc};
    std::deque<std::string> outbox;
    bool writing = false;
    bool open = false;
    bool stopped = false;
    int attempt = 0;
    int generation = 0;  // ignores handlers of a socket already given up on
    std::chrono::steady_clock::time_point last_heard;
    std::chrono::steady_clock::time_point opened_at;
    std::set<std::string> seen;  // recent alert ids
    std::deque<std::string> seen_order;
    std::mt19937 rng{std::random_device{}()};

    void status(client_status s, std::string detail) {
        if (on_status) on_status({s, std::move(detail), attempt});
    }

    void connect() {
        if (stopped) return;
        int const gen = ++generation;
        status(attempt == 0 ? client_status::connecting : client_status::reconnecting, "");
        resolver.async_resolve(options.host, std::to_string(options.port),
                               [self = shared_from_this(), gen](beast::error_code ec, tcp::resolver::results_type r) {
                                   if (gen != self->generation) return;
                                   if (ec) return self->retry("resolve: " + ec.message());
                                   if constexpr (tls)
                                       self->ws.emplace(self->ioc, *self->tls_context);
                                   else
                                       self->ws.emplace(self->ioc);
                                   asio::async_connect(beast::get_lowest_layer(*self->ws), r,
                                                       [self, gen](beast::error_code ec, tcp::endpoint const&) {
                                                           if (gen != self->generation) return;
                                                           if (ec) return self->retry("connect: " + ec.message());
                                                           self->tls_handshake(gen);
                                                       });
                               });
    }

    void tls_handshake(int gen) {
        if constexpr (!tls) {
            handshake(gen);
        } else {
            prepare_tls(ws->next_layer(), options.host, options.tls);
            ws->next_layer().async_handshake(
                asio::ssl::stream_base::client, [self = shared_from_this(), gen](beast::error_code ec) {
                    if (gen != self->generation) return;
                    if (!ec) return self->handshake(gen);
                    // An untrusted certificate does not heal by retrying.
                    bool const untrusted = ec.category() == asio::error::get_ssl_category() &&
                                           ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED;
                    if (untrusted) return self->finish(tls_failure(ec));
                    self->retry(tls_failure(ec));
                });
        }
    }

    void handshake(int gen) {
        std::string target = "/ws/alerts/" + options.user_id + "?token=" + options.get_token();
        std::uint64_t const since = last_seq.load();
        auto const epoch = current_epoch();
        if (since > 0)
            target += "&since=" + std::to_string(since);
        else if (options.since)
            target += "&since=" + std::to_string(*options.since);
        if ((since > 0 || options.since) && !epoch.empty()) target += "&epoch=" + epoch;
        auto response = std::make_shared<websocket::response_type>();
        ws->async_handshake(
            *response, options.host + ":" + std::to_string(options.port), target,
            [self = shared_from_this(), gen, response](beast::error_code ec) {
                if (gen != self->generation) return;
                if (ec) {
                    auto const code = response->result_int();
                    if (code == 401 || code == 403)
                        return self->finish("refused: HTTP " + std::to_string(code) + " " + response->body());
                    return self->retry("handshake: " + (code ? "HTTP " + std::to_string(code) : ec.message()));
                }
                self->on_open(gen);
            });
    }

    void on_open(int gen) {
        open = true;
        opened_at = last_heard = std::chrono::steady_clock::now();
        ws->control_callback(
            [this](websocket::frame_type, beast::string_view) { last_heard = std::chrono::steady_clock::now(); });
        status(client_status::open, "");
        schedule_heartbeat(gen);
        read(gen);
        if (!outbox.empty()) write(gen);
    }

    void read(int gen) {
        ws->async_read(buffer, [self = shared_from_this(), gen](beast::error_code ec, std::size_t) {
            if (gen != self->generation) return;
            if (ec) {
                auto const code = self->ws->reason().code;
                if (code == 4001) return self->finish("replaced by a newer connection (4001)");
                auto const reason = self->ws->reason().reason;
                return self->retry(ec == websocket::error::closed ? "closed " + std::to_string(code) + " " +
                                                                        std::string{reason.data(), reason.size()}
                                                                  : "read: " + ec.message());
            }
            self->last_heard = std::chrono::steady_clock::now();
            // A connection that stayed up a while resets the backoff.
            if (self->last_heard - self->opened_at > std::chrono::seconds{10}) self->attempt = 0;
            self->handle(beast::buffers_to_string(self->buffer.data()), gen);
            self->buffer.consume(self->buffer.size());
            self->read(gen);
        });
    }

    void handle(std::string const& text, int gen) {
        boost::system::error_code ec;
        auto v = json::parse(text, ec);
        if (ec || !v.is_object()) return;
        auto& o = v.as_object();
        auto const* type = o.if_contains("type");
        if (!type || !type->is_string()) return;
        if (*type == "ping") return send(R"({"type":"pong"})", gen);
        if (*type == "alert_updated") {
            if (options.on_update) options.on_update(o, text);
            return;
        }
        if (*type != "anomaly_detected") return;
        auto const* id = o.if_contains("alert_id");
        auto const* seq = o.if_contains("seq");
        if (!id || !id->is_string() || !seq || !seq->is_number()) return;
        std::string const alert_id{id->get_string()};
        auto const s = seq->to_number<std::uint64_t>();
        if (auto const* e = o.if_contains("epoch"); e && e->is_string() && e->get_string() != current_epoch()) {
            // Numbering started again (or this is the first alert): what was
            // seen before says nothing about these seqs.
            std::lock_guard lock{epoch_mutex};
            epoch = std::string{e->get_string()};
            last_seq = 0;
            seen.clear();
            seen_order.clear();
        }
        if (seen.count(alert_id) || s <= last_seq.load()) return;  // duplicate
        seen.insert(alert_id);
        seen_order.push_back(alert_id);
        if (seen_order.size() > 4096) {
            seen.erase(seen_order.front());
            seen_order.pop_front();
        }
        last_seq = s;
        if (on_alert) on_alert(o, text);
        if (options.auto_ack) send(json::serialize(json::object{{"type", "ack"}, {"alert_id", alert_id}}), gen);
    }

    void send(std::string text, int gen) {
        outbox.push_back(std::move(text));
        if (open && !writing) write(gen);
    }

    void write(int gen) {
        writing = true;
        ws->text(true);
        ws->async_write(asio::buffer(outbox.front()),
                        [self = shared_from_this(), gen](beast::error_code ec, std::size_t) {
                            if (gen != self->generation) return;
                            self->writing = false;
                            if (ec) return self->retry("write: " + ec.message());
                            self->outbox.pop_front();
                            if (!self->outbox.empty()) self->write(gen);
                        });
    }

    void schedule_heartbeat(int gen) {
        heartbeat_timer.expires_after(std::min(options.heartbeat_interval, options.heartbeat_timeout / 2));
        heartbeat_timer.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
            if (ec || gen != self->generation) return;
            if (std::chrono::steady_clock::now() - self->last_heard > self->options.heartbeat_timeout)
                return self->retry("heartbeat timeout");
            self->send(R"({"type":"ping"})", gen);
            self->schedule_heartbeat(gen);
        });
    }

    void drop_socket() {
        ++generation;
        open = false;
        writing = false;
        heartbeat_timer.cancel();
        // Unsent pings and pongs are stale; acks are kept for the next connection.
        std::erase_if(outbox, [](std::string const& m) { return m.find(R"("ack")") == std::string::npos; });
        if (ws) {
            beast::error_code ignored;
            beast::get_lowest_layer(*ws).close(ignored);
        }
        buffer.clear();
    }

    void retry(std::string const& why) {
        drop_socket();
        if (stopped) return;
        ++attempt;
        auto const delay = backoff_delay(attempt, options, std::uniform_real_distribution<double>{0, 1}(rng));
        status(client_status::reconnecting, why + "; retrying in " + std::to_string(delay.count()) + " ms");
        retry_timer.expires_after(delay);
        retry_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->connect();
        });
    }

    void finish(std::string why) override {
        drop_socket();
        stopped = true;
        retry_timer.cancel();
        status(client_status::stopped, std::move(why));
    }

    void start() override { connect(); }
    void queue_ack(std::string alert_id) override {
        send(json::serialize(json::object{{"type", "ack"}, {"alert_id", alert_id}}), generation);
    }
};

std::shared_ptr<alert_client::impl> make_session(client_options const& o) {
    if (!o.tls.enabled) return std::make_shared<session<tcp::socket>>();
    auto s = std::make_shared<session<tls_socket>>();
    s->tls_context.emplace(make_tls_context(o.tls));  // throws for an unreadable ca_file
    return s;
}

}  // namespace

alert_client::alert_client(client_options options, alert_handler on_alert, status_handler on_status)
    : impl_(make_session(options)) {
    impl_->options = std::move(options);
    impl_->epoch = impl_->options.since_epoch;
    impl_->on_alert = std::move(on_alert);
    impl_->on_status = std::move(on_status);
}

alert_client::~alert_client() = default;

void alert_client::run() {
    impl_->ioc.restart();
    asio::post(impl_->ioc, [self = impl_] { self->start(); });
    impl_->ioc.run();
}

void alert_client::stop() {
    asio::post(impl_->ioc, [self = impl_] { self->finish("stopped"); });
}

void alert_client::ack(std::string const& alert_id) {
    asio::post(impl_->ioc, [self = impl_, alert_id] { self->queue_ack(alert_id); });
}

std::uint64_t alert_client::last_seq() const { return impl_->last_seq.load(); }
std::string alert_client::last_epoch() const { return impl_->current_epoch(); }

}  // namespace vigil::client
