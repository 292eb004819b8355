#include "support/tcp_proxy.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <future>
#include <list>
#include <thread>

namespace vigil::test {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// One relayed connection; everything on the proxy's thread.
struct relay : std::enable_shared_from_this<relay> {
    explicit relay(net::io_context& ioc) : client(ioc), server(ioc) {}

    tcp::socket client;
    tcp::socket server;
    std::array<char, 16 * 1024> up{};    // client -> server
    std::array<char, 16 * 1024> down{};  // server -> client
    bool subscriber = false;
    bool deaf = false;
    bool mute = false;  // what the client sends is read and thrown away
    bool closed = false;

    void start() {
        pump_up();
        pump_down();
    }

    void close() {
        if (closed) return;
        closed = true;
        error_code ec;
        client.close(ec);
        server.close(ec);
    }

    void pump_up() {
        client.async_read_some(net::buffer(up), [self = shared_from_this()](error_code ec, std::size_t n) {
            if (ec) return self->close();
            if (std::string_view(self->up.data(), n).find("SUBSCRIBE") != std::string_view::npos)
                self->subscriber = true;
            if (self->mute) return self->pump_up();  // read and dropped: never reaches the server
            net::async_write(self->server, net::buffer(self->up.data(), n), [self](error_code ec, std::size_t) {
                if (ec) return self->close();
                self->pump_up();
            });
        });
    }

    void pump_down() {
        server.async_read_some(net::buffer(down), [self = shared_from_this()](error_code ec, std::size_t n) {
            if (ec) return self->close();
            if (self->deaf) return self->pump_down();  // read and dropped
            net::async_write(self->client, net::buffer(self->down.data(), n), [self](error_code ec, std::size_t) {
                if (ec) return self->close();
                self->pump_down();
            });
        });
    }
};

}  // namespace

struct tcp_proxy::impl : std::enable_shared_from_this<impl> {
    explicit impl(std::uint16_t target) : target_(net::ip::make_address("127.0.0.1"), target), acceptor_(ioc_) {
        listen(0);
    }

    void listen(std::uint16_t port) {
        tcp::endpoint const local{net::ip::make_address("127.0.0.1"), port};
        acceptor_.open(local.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(local);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
    }

    net::io_context ioc_;
    net::executor_work_guard<net::io_context::executor_type> work_{ioc_.get_executor()};  // until destroyed
    tcp::endpoint target_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::list<std::weak_ptr<relay>> relays_;
    std::thread thread_;

    void accept() {
        auto r = std::make_shared<relay>(ioc_);
        acceptor_.async_accept(r->client, [self = shared_from_this(), r](error_code ec) {
            if (ec) return;
            r->server.async_connect(self->target_, [r](error_code ec) {
                if (ec) return r->close();
                r->start();
            });
            self->relays_.push_back(r);
            self->accept();
        });
    }

    // Runs `f` on the proxy's thread and waits for it.
    template <class F>
    void run(F f) {
        std::promise<void> done;
        net::post(ioc_, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }
};

tcp_proxy::tcp_proxy(std::uint16_t target_port) : impl_(std::make_shared<impl>(target_port)) {
    impl_->accept();
    impl_->thread_ = std::thread([i = impl_.get()] { i->ioc_.run(); });
}

// Once everything is closed the io_context runs out of work and its thread ends.
tcp_proxy::~tcp_proxy() {
    cut();
    impl_->run([this] { impl_->work_.reset(); });
    impl_->thread_.join();
}

std::uint16_t tcp_proxy::port() const { return impl_->port_; }

void tcp_proxy::deafen_subscribers() {
    impl_->run([this] {
        for (auto const& w : impl_->relays_)
            if (auto r = w.lock(); r && r->subscriber) r->deaf = true;
    });
}

void tcp_proxy::mute_commands() {
    impl_->run([this] {
        for (auto const& w : impl_->relays_)
            if (auto r = w.lock(); r && !r->subscriber) r->mute = true;
    });
}

void tcp_proxy::cut() {
    impl_->run([this] {
        error_code ec;
        impl_->acceptor_.close(ec);
        for (auto const& w : impl_->relays_)
            if (auto r = w.lock()) r->close();
        impl_->relays_.clear();
    });
}

void tcp_proxy::restore() {
    impl_->run([this] {
        if (impl_->acceptor_.is_open()) return;
        impl_->listen(impl_->port_);
        impl_->accept();
    });
}

}  // namespace vigil::test
