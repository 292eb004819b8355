#include "push/push_sender.hpp"

#include "common/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

namespace vigil::push {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

std::string_view to_string(push_outcome o) noexcept {
    switch (o) {
        case push_outcome::delivered: return "delivered";
        case push_outcome::gone: return "gone";
        case push_outcome::failed: return "failed";
        case push_outcome::gave_up: return "gave_up";
    }
    return "failed";
}

namespace {

bool is_public_v4(asio::ip::address_v4 const& a) noexcept {
    std::uint32_t const x = a.to_uint();
    auto in = [x](std::uint32_t net, int bits) { return (x >> (32 - bits)) == (net >> (32 - bits)); };
    return !(in(0x00000000, 8) ||   // "this network"
             in(0x0a000000, 8) ||   // 10/8
             in(0x64400000, 10) ||  // 100.64/10, shared address space
             in(0x7f000000, 8) ||   // loopback
             in(0xa9fe0000, 16) ||  // 169.254/16, link-local
             in(0xac100000, 12) ||  // 172.16/12
             in(0xc0000000, 24) ||  // 192.0.0/24, protocol assignments
             in(0xc0a80000, 16) ||  // 192.168/16
             in(0xc6120000, 15) ||  // 198.18/15, benchmarking
             in(0xe0000000, 4) ||   // multicast
             in(0xf0000000, 4));    // reserved, broadcast
}

// The first bytes of an answer, safe for a log line.
std::string printable_prefix(std::string_view body) {
    std::string out{body.substr(0, 200)};
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return out;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

bool is_public_address(asio::ip::address const& a) noexcept {
    if (a.is_v4()) return is_public_v4(a.to_v4());
    auto const v6 = a.to_v6();
    if (v6.is_v4_mapped()) return is_public_v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
    auto const b = v6.to_bytes();
    return !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || v6.is_link_local() ||
             (b[0] & 0xfe) == 0xfc ||                   // fc00::/7, unique local
             (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0));  // fec0::/10, the old site-local
}

namespace {

using strand_type = asio::strand<asio::io_context::executor_type>;

// One connection to a push service, plain or TLS.
struct connection {
    connection(strand_type const& strand, ssl::context* tls) {
        if (tls)
            secure.emplace(strand, *tls);
        else
            plain.emplace(strand);
    }
    beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }
    void close() { tcp().close(); }

    std::optional<beast::tcp_stream> plain;
    std::optional<ssl::stream<beast::tcp_stream>> secure;
    clock_type::time_point idle_since;
};

// One push, from send() to its outcome; only the sender's strand touches it.
struct push_op {
    push_op(strand_type const& strand, push_request r, push_sender::completion d)
        : request(std::move(r)), done(std::move(d)), resolver(strand), timer(strand) {}

    push_request request;
    std::string wire;  // the whole HTTP/1.1 request
    push_sender::completion done;
    clock_type::time_point started = clock_type::now();
    tcp::resolver resolver;
    asio::steady_timer timer;  // the DNS deadline, then the wait before a retry
    std::unique_ptr<connection> conn;
    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    clock_type::time_point connect_deadline;  // DNS, TCP and TLS handshake together
    bool reused = false;                      // conn came from the idle pool
    bool in_flight = false;                   // holds one of max_concurrent
    bool finished = false;
    int attempts = 0;
    int status = 0;
    std::string detail;
};

using op_ptr = std::shared_ptr<push_op>;

}  // namespace

struct push_sender::impl : std::enable_shared_from_this<push_sender::impl> {
    impl(asio::io_context& ioc, sender_options o)
        : strand(asio::make_strand(ioc)), options(std::move(o)), tls(ssl::context::tls_client) {
        tls.set_default_verify_paths();
        if (!options.extra_ca_file.empty()) {
            boost::system::error_code ec;
            tls.load_verify_file(options.extra_ca_file, ec);
            if (ec) throw std::runtime_error("cannot load " + options.extra_ca_file + ": " + ec.message());
        }
        tls.set_verify_mode(ssl::verify_peer);
        SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    }

    strand_type strand;
    sender_options const options;
    ssl::context tls;
    bool stopped = false;
    std::deque<op_ptr> queue;
    std::set<op_ptr> live;  // every op not yet finished: queued, in flight or waiting to retry
    std::size_t active = 0;
    std::map<std::string, std::unique_ptr<connection>, std::less<>> idle;  // by origin
    std::mt19937_64 rng{std::random_device{}()};

    // --- admission -------------------------------------------------------

    // Why the sender's own policy refuses this endpoint, if it does. The
    // request was built under some policy; this one is the sender's.
    std::optional<std::string> refusal(push_request const& r) const {
        // The request goes out as text: nothing in it may end a line early.
        auto const clean = [](std::string_view s, bool allow_space) {
            return std::all_of(s.begin(), s.end(), [allow_space](char c) {
                auto const u = static_cast<unsigned char>(c);
                return (u > 0x20 || (allow_space && u == 0x20)) && u != 0x7f;
            });
        };
        if (!clean(r.endpoint.target, false) || !clean(r.endpoint.host, false) || !clean(options.user_agent, true))
            return "the request has control characters";
        for (auto const& [name, value] : r.headers)
            if (name.empty() || !clean(name, false) || name.find(':') != std::string::npos || !clean(value, true))
                return "the request has control characters";
        auto const& e = r.endpoint;
        std::optional<asio::ip::address> ip;
        if (e.host_is_ip) {
            boost::system::error_code ec;
            ip = asio::ip::make_address(e.host, ec);
            if (ec) return "the endpoint's address does not parse";
        }
        if (!e.tls && !options.allow_plain_http) {
            if (!options.allow_insecure_loopback || !ip || !ip->is_loopback())
                return "plain http:// is allowed only to loopback addresses, for tests";
            return std::nullopt;
        }
        if (ip && !options.allow_private_addresses && !is_public_address(*ip))
            return "the endpoint's address is not a public one";
        return std::nullopt;
    }

    void accept(push_request request, completion done) {
        auto op = std::make_shared<push_op>(strand, std::move(request), std::move(done));
        if (stopped) return finish(op, push_outcome::failed, "stopped");
        if (queue.size() >= options.max_queued) return finish(op, push_outcome::failed, "queue full");
        if (auto why = refusal(op->request)) return finish(op, push_outcome::failed, *why);

        op->wire = serialize(op->request);
        live.insert(op);
        queue.push_back(op);
        pump();
    }

    // POST target HTTP/1.1, Host, User-Agent, the request's headers,
    // Content-Length, then the body: the request is built once and written
    // as it stands, on every attempt.
    std::string serialize(push_request& r) const {
        auto const& e = r.endpoint;
        std::string w;
        w.reserve(512 + r.body.size());
        w.append("POST ").append(e.target).append(" HTTP/1.1\r\nHost: ");
        w.append(e.origin.substr(e.origin.find("://") + 3));
        w.append("\r\nUser-Agent: ").append(options.user_agent).append("\r\n");
        for (auto const& [name, value] : r.headers) w.append(name).append(": ").append(value).append("\r\n");
        w.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
        w.append(r.body);
        r.body.clear();
        return w;
    }

    void pump() {
        while (!stopped && active < options.max_concurrent && !queue.empty()) {
            auto op = std::move(queue.front());
            queue.pop_front();
            op->in_flight = true;
            ++active;
            attempt(op);
        }
    }

    // --- one attempt -----------------------------------------------------

    void attempt(op_ptr const& op) {
        ++op->attempts;
        op->reused = false;
        if (auto it = idle.find(op->request.endpoint.origin); it != idle.end()) {
            auto c = std::move(it->second);
            idle.erase(it);
            if (clock_type::now() - c->idle_since < options.idle_timeout) {
                op->conn = std::move(c);
                op->reused = true;
                return exchange(op);
            }
            c->close();
        }
        connect(op);
    }

    void connect(op_ptr const& op) {
        auto const& e = op->request.endpoint;
        op->conn = std::make_unique<connection>(strand, e.tls ? &tls : nullptr);
        op->connect_deadline = clock_type::now() + options.connect_timeout;
        if (e.host_is_ip) return connect_to(op, {tcp::endpoint{asio::ip::make_address(e.host), e.port}});
        // The resolver has no deadline of its own.
        op->timer.expires_at(op->connect_deadline);
        op->timer.async_wait([op](boost::system::error_code ec) {
            if (!ec) op->resolver.cancel();
        });
        op->resolver.async_resolve(
            e.host, std::to_string(e.port),
            [self = shared_from_this(), op](boost::system::error_code ec, tcp::resolver::results_type const& results) {
                op->timer.cancel();
                if (self->ended(op)) return;
                if (ec) return self->retry_or_give_up(op, 0, "resolve: " + ec.message());
                std::vector<tcp::endpoint> addresses;
                for (auto const& r : results)
                    if (self->options.allow_private_addresses || is_public_address(r.endpoint().address()))
                        addresses.push_back(r.endpoint());
                if (addresses.empty())
                    return self->finish(op, push_outcome::failed, "the endpoint's host has no public address");
                self->connect_to(op, addresses);  // async_connect keeps its own copy
            });
    }

    void connect_to(op_ptr const& op, std::vector<tcp::endpoint> const& addresses) {
        auto& stream = op->conn->tcp();
        stream.expires_at(op->connect_deadline);  // the TLS handshake's reads and writes too
        stream.async_connect(addresses,
                             [self = shared_from_this(), op](boost::system::error_code ec, tcp::endpoint const&) {
                                 if (self->ended(op)) return;
                                 if (ec) return self->retry_or_give_up(op, 0, "connect: " + ec.message());
                                 if (op->conn->secure) return self->handshake(op);
                                 self->exchange(op);
                             });
    }

    void handshake(op_ptr const& op) {
        auto const& e = op->request.endpoint;
        SSL* const native = op->conn->secure->native_handle();
        bool const named = e.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), e.host.c_str()) == 1
                                        : SSL_set_tlsext_host_name(native, const_cast<char*>(e.host.c_str())) == 1 &&
                                              SSL_set1_host(native, e.host.c_str()) == 1;
        if (!named) return finish(op, push_outcome::failed, "tls: cannot set the host name to verify");
        op->conn->secure->async_handshake(
            ssl::stream_base::client, [self = shared_from_this(), op, native](boost::system::error_code ec) {
                if (self->ended(op)) return;
                if (ec) {
                    // A certificate that does not verify will not verify on a retry.
                    long const verify = SSL_get_verify_result(native);
                    if (verify != X509_V_OK)
                        return self->finish(op, push_outcome::failed,
                                            std::string{"certificate: "} + X509_verify_cert_error_string(verify));
                    return self->retry_or_give_up(op, 0, "tls: " + ec.message());
                }
                self->exchange(op);
            });
    }

    void exchange(op_ptr const& op) {
        op->conn->tcp().expires_after(options.exchange_timeout);
        op->buffer.clear();
        op->parser.emplace();
        op->parser->eager(true);
        op->parser->header_limit(8 * 1024);
        op->parser->body_limit(options.max_answer_body);
        if (op->conn->secure)
            write_then_read(op, *op->conn->secure);
        else
            write_then_read(op, *op->conn->plain);
    }

    // Beast's parser, fed from read_some: http::async_read would compile
    // its composed operations twice more (plain and TLS) for the same work.
    template <class Stream>
    void write_then_read(op_ptr const& op, Stream& stream) {
        // `stream` lives in op->conn, which lives as long as op.
        asio::async_write(stream, asio::buffer(op->wire),
                          [self = shared_from_this(), op, &stream](boost::system::error_code ec, std::size_t) {
                              if (self->ended(op)) return;
                              if (ec) return self->lost(op, "write: " + ec.message());
                              self->read_some(op, stream);
                          });
    }

    template <class Stream>
    void read_some(op_ptr const& op, Stream& stream) {
        stream.async_read_some(op->buffer.prepare(4096), [self = shared_from_this(), op, &stream](
                                                             boost::system::error_code ec, std::size_t n) {
            if (self->ended(op)) return;
            op->buffer.commit(n);
            auto& parser = *op->parser;
            boost::system::error_code pec;
            while (op->buffer.size() > 0 && !parser.is_done()) {
                std::size_t const used = parser.put(op->buffer.data(), pec);
                op->buffer.consume(used);
                if (pec == http::error::need_more) {
                    pec = {};
                    break;
                }
                if (pec || used == 0) break;
            }
            // The end of the stream ends an answer that runs until it.
            if (!pec && ec && !parser.is_done() && parser.got_some() &&
                (ec == asio::error::eof || ec == ssl::error::stream_truncated))
                parser.put_eof(pec);
            if (pec && !(pec == http::error::body_limit && parser.is_header_done()))
                return self->lost(op, "read: " + pec.message());
            // A body over the limit still leaves a status to act on.
            if (pec || parser.is_done())
                return self->answered(op, !pec && !ec && op->buffer.size() == 0 && parser.get().keep_alive(),
                                      pec == http::error::body_limit);
            if (ec) return self->lost(op, "read: " + ec.message());
            self->read_some(op, stream);
        });
    }

    // A connection failed before an answer. One taken from the pool may
    // simply have been closed by the push service meanwhile: that costs a
    // new connection, not an attempt.
    void lost(op_ptr const& op, std::string why) {
        op->conn->close();
        if (op->reused && !op->parser->got_some()) {
            op->reused = false;
            return connect(op);
        }
        retry_or_give_up(op, 0, std::move(why));
    }

    // An answer arrived; `reusable` when the connection may carry the next
    // push, `body_unread` when its body was over max_answer_body.
    void answered(op_ptr const& op, bool reusable, bool body_unread) {
        auto const& answer = op->parser->get();
        int const status = answer.result_int();
        if (reusable)
            park(op);
        else
            op->conn->close();

        switch (classify_status(status)) {
            case answer_class::delivered: op->status = status; return finish(op, push_outcome::delivered, "");
            case answer_class::gone: op->status = status; return finish(op, push_outcome::gone, "");
            case answer_class::failed:
                op->status = status;
                return finish(op, push_outcome::failed,
                              "HTTP " + std::to_string(status) + ": " +
                                  (body_unread ? "(a body over " + std::to_string(options.max_answer_body) + " bytes)"
                                               : printable_prefix(answer.body())));
            case answer_class::retry: {
                auto const it = answer.find(http::field::retry_after);
                std::optional<std::chrono::seconds> after;
                if (it != answer.end()) after = parse_retry_after(it->value(), unix_now());
                return retry_or_give_up(op, status, "HTTP " + std::to_string(status), after);
            }
        }
    }

    // Keeps the connection for the next push to the same push service,
    // in place of any other kept for it.
    void park(op_ptr const& op) {
        auto c = std::move(op->conn);
        c->idle_since = clock_type::now();
        auto& slot = idle[op->request.endpoint.origin];
        if (slot) slot->close();
        slot = std::move(c);
    }

    // --- outcomes --------------------------------------------------------

    void retry_or_give_up(op_ptr const& op, int status, std::string detail,
                          std::optional<std::chrono::seconds> retry_after = std::nullopt) {
        op->status = status;
        op->detail = std::move(detail);
        double const u = std::uniform_real_distribution<double>{0.0, 1.0}(rng);
        auto const delay = retry_delay(op->attempts + 1, retry_after, options.retry, u);
        if (!delay) {
            if (retry_after && *retry_after > options.retry.max_retry_after)
                op->detail += "; Retry-After " + std::to_string(retry_after->count()) + " s is longer than allowed";
            return finish(op, push_outcome::gave_up, op->detail);
        }
        log::info("push.retry", {{"origin", op->request.endpoint.origin},
                                 {"status", status},
                                 {"attempt", op->attempts},
                                 {"delay_ms", delay->count()},
                                 {"detail", op->detail}});
        release(op);
        op->timer.expires_after(*delay);
        op->timer.async_wait([self = shared_from_this(), op](boost::system::error_code) {
            if (self->ended(op)) return;
            self->queue.push_front(op);
            self->pump();
        });
    }

    void release(op_ptr const& op) {
        if (!op->in_flight) return;
        op->in_flight = false;
        --active;
        pump();
    }

    // True when the op needs no more work: finished already, or the sender stopped.
    bool ended(op_ptr const& op) {
        if (op->finished) return true;
        if (stopped) {
            finish(op, push_outcome::failed, "stopped");
            return true;
        }
        return false;
    }

    void log_outcome(std::string const& origin, push_outcome outcome, push_result const& r, std::int64_t ms) const {
        switch (outcome) {
            case push_outcome::delivered:
                log::debug("push.delivered",
                           {{"origin", origin}, {"status", r.status}, {"attempts", r.attempts}, {"ms", ms}});
                break;
            case push_outcome::gone: log::info("push.gone", {{"origin", origin}, {"status", r.status}}); break;
            case push_outcome::failed:
            case push_outcome::gave_up:
                if (stopped) {  // shutting down: expected, not a warning
                    log::info("push.stopped", {{"origin", origin}, {"attempts", r.attempts}});
                    break;
                }
                log::warn(outcome == push_outcome::failed ? "push.failed" : "push.gave_up",
                          {{"origin", origin}, {"status", r.status}, {"attempts", r.attempts}, {"detail", r.detail}});
                break;
        }
    }

    void finish(op_ptr const& op, push_outcome outcome, std::string detail) {
        if (op->finished) return;
        op->finished = true;
        if (op->conn) op->conn->close();
        live.erase(op);
        push_result r;
        r.outcome = outcome;
        r.status = op->status;
        r.attempts = op->attempts;
        r.detail = std::move(detail);
        r.elapsed = clock_type::now() - op->started;
        auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count();
        auto const& origin = op->request.endpoint.origin;
        if (options.log_outcomes) log_outcome(origin, outcome, r, ms);
        auto done = std::move(op->done);
        release(op);
        if (done) done(std::move(r));
    }

    void shutdown() {
        stopped = true;
        for (auto& [origin, c] : idle) c->close();
        idle.clear();
        queue.clear();
        auto const all = live;
        for (auto const& op : all) {
            op->timer.cancel();
            op->resolver.cancel();
            finish(op, push_outcome::failed, "stopped");
        }
    }
};

push_sender::push_sender(asio::io_context& ioc, sender_options options)
    : impl_(std::make_shared<impl>(ioc, std::move(options))) {}

push_sender::~push_sender() { stop(); }

void push_sender::send(push_request request, completion done) {
    asio::post(impl_->strand, [self = impl_, request = std::move(request), done = std::move(done)]() mutable {
        self->accept(std::move(request), std::move(done));
    });
}

void push_sender::stop() {
    asio::post(impl_->strand, [self = impl_] { self->shutdown(); });
}

}  // namespace vigil::push
