#pragma once
// The server's TLS certificate and key, loaded into an OpenSSL context that
// new connections share. reload() (on SIGHUP) builds a fresh context from the
// files and swaps it in only if it loads whole; connections already open keep
// the context they were accepted with, so a reload drops nobody.
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace vigil::net {

struct tls_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class tls_identity {
public:
    // Throws tls_error when the files cannot be used.
    tls_identity(std::string cert_file, std::string key_file);

    std::shared_ptr<boost::asio::ssl::context> current() const;

    // Throws tls_error and keeps the current identity when the files cannot be used.
    void reload();

    // Subject and expiry of the current certificate, for logs.
    std::string const& subject() const { return subject_; }
    std::string const& not_after() const { return not_after_; }

private:
    std::shared_ptr<boost::asio::ssl::context> load(std::string& subject, std::string& not_after) const;

    std::string const cert_file_;
    std::string const key_file_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> current_;
    std::string subject_;
    std::string not_after_;
};

}  // namespace vigil::net
