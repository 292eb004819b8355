#include "support/mock_push_service.hpp"

#include "push/ece.hpp"
#include "push/p256_key.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace vigil::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Handlers hold a plain pointer to the impl: they run on its thread and die
// with its io_context, which the impl outlives.
struct mock_push_service::impl {
    explicit impl(options o) : opts(std::move(o)) {
        if (!opts.subscriber_private_pem.empty()) subscriber = push::p256_key::from_pem(opts.subscriber_private_pem);
        if (!opts.cert_file.empty()) {
            tls.emplace(ssl::context::tls_server);
            tls->use_certificate_chain_file(opts.cert_file);
            tls->use_private_key_file(opts.key_file, ssl::context::pem);
        }
        tcp::endpoint const at{asio::ip::make_address(opts.address), 0};
        acceptor.open(at.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(at);
        acceptor.listen();
        bound_port = acceptor.local_endpoint().port();
    }

    options opts;
    std::optional<push::p256_key> subscriber;
    std::optional<ssl::context> tls;
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::uint16_t bound_port = 0;
    std::thread thread;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<received_push> got;
    std::deque<mock_answer> scripted;
    std::vector<std::shared_ptr<void>> held;  // sessions told never to answer (io thread only)
    int accepted = 0;
    int in_progress = 0;
    int most_in_progress = 0;

    void accept() {
        acceptor.async_accept([self = this](boost::system::error_code ec, tcp::socket socket) {
            if (ec) return;
            int index;
            {
                std::lock_guard lock{self->mutex};
                index = ++self->accepted;
            }
            if (self->tls) {
                auto s = std::make_shared<session<ssl::stream<beast::tcp_stream>>>(
                    self, index, ssl::stream<beast::tcp_stream>{beast::tcp_stream{std::move(socket)}, *self->tls});
                s->stream.async_handshake(ssl::stream_base::server, [s](boost::system::error_code ec) {
                    if (!ec) s->read();
                });
            } else {
                std::make_shared<session<beast::tcp_stream>>(self, index, beast::tcp_stream{std::move(socket)})->read();
            }
            self->accept();
        });
    }

    // Records a request and picks its answer.
    mock_answer take(http::request<http::string_body> const& req, int connection) {
        received_push r;
        r.method = std::string{req.method_string()};
        r.target = std::string{req.target()};
        for (auto const& f : req) {
            std::string name{f.name_string()};
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return char(std::tolower(c)); });
            r.headers[name] = std::string{f.value()};
        }
        r.body = req.body();
        r.at = std::chrono::steady_clock::now();
        r.connection = connection;
        if (subscriber) {
            auto const text = push::ece_decrypt(r.body, *subscriber, opts.subscriber_auth);
            if (text)
                r.plaintext = *text;
            else
                r.decrypt_error = text.error().message();
        }
        r.vapid = verify_vapid(r.header("authorization"), opts.vapid_public_key, &r.vapid_error);

        std::lock_guard lock{mutex};
        got.push_back(std::move(r));
        most_in_progress = std::max(most_in_progress, ++in_progress);
        mock_answer a;
        if (!scripted.empty()) {
            a = std::move(scripted.front());
            scripted.pop_front();
        }
        changed.notify_all();
        return a;
    }

    void answered() {
        std::lock_guard lock{mutex};
        --in_progress;
    }

    template <class Stream>
    struct session : std::enable_shared_from_this<session<Stream>> {
        session(impl* o, int i, Stream s) : owner(o), index(i), stream(std::move(s)) {}

        impl* owner;
        int index;
        Stream stream;
        beast::flat_buffer buffer;
        http::request<http::string_body> request;
        http::response<http::string_body> response;
        asio::steady_timer timer{owner->ioc};
        mock_answer answer;

        void read() {
            request = {};
            http::async_read(stream, buffer, request,
                             [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                                 if (ec) return;
                                 self->answer = self->owner->take(self->request, self->index);
                                 if (self->answer.never) return self->owner->held.push_back(self);
                                 self->timer.expires_after(self->answer.delay);
                                 self->timer.async_wait([self](boost::system::error_code) { self->respond(); });
                             });
        }

        void respond() {
            response = {http::status(answer.status), 11};
            for (auto const& [k, v] : answer.headers) response.set(k, v);
            response.body() = answer.body;
            response.keep_alive(request.keep_alive());
            response.prepare_payload();
            http::async_write(stream, response,
                              [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                                  self->owner->answered();
                                  if (ec || self->answer.close_after || !self->request.keep_alive()) {
                                      beast::get_lowest_layer(self->stream).close();
                                      return;
                                  }
                                  self->read();
                              });
        }
    };
};

mock_push_service::mock_push_service(options o) : impl_(std::make_shared<impl>(std::move(o))) {
    impl_->accept();
    impl_->thread = std::thread{[i = impl_.get()] { i->ioc.run(); }};
}

mock_push_service::~mock_push_service() {
    impl_->ioc.stop();
    impl_->thread.join();
}

std::uint16_t mock_push_service::port() const { return impl_->bound_port; }

std::string mock_push_service::endpoint(std::string_view path) const {
    return std::string{impl_->tls ? "https://" : "http://"} + impl_->opts.address + ":" + std::to_string(port()) +
           std::string{path};
}

void mock_push_service::script(std::vector<mock_answer> answers) {
    std::lock_guard lock{impl_->mutex};
    for (auto& a : answers) impl_->scripted.push_back(std::move(a));
}

std::vector<received_push> mock_push_service::received() const {
    std::lock_guard lock{impl_->mutex};
    return impl_->got;
}

bool mock_push_service::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock{impl_->mutex};
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->got.size() >= n; });
}

int mock_push_service::connections() const {
    std::lock_guard lock{impl_->mutex};
    return impl_->accepted;
}

int mock_push_service::max_in_progress() const {
    std::lock_guard lock{impl_->mutex};
    return impl_->most_in_progress;
}

}  // namespace vigil::test
