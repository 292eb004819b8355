#include "net/tls_identity.hpp"

#include "common/metrics.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

namespace vigil::net {

namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_error() {
    unsigned long const e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

std::string subject_of(X509* cert) {
    if (!cert) return {};
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    return buf;
}

// notAfter as Unix time (0 when unreadable), for /metrics.
std::int64_t not_after_seconds(X509* cert) {
    std::tm tm{};
    if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
    return std::int64_t(timegm(&tm));
}

std::string not_after_of(X509* cert) {
    if (!cert) return {};
    std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), BIO_free};
    if (!bio || ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert)) != 1) return {};
    char* data = nullptr;
    long const n = BIO_get_mem_data(bio.get(), &data);
    return {data, std::size_t(n)};
}

}  // namespace

tls_identity::tls_identity(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
    current_ = load(subject_, not_after_);
    metrics::global().tls_not_after_seconds.set(not_after_seconds(SSL_CTX_get0_certificate(current_->native_handle())));
}

std::shared_ptr<ssl::context> tls_identity::current() const {
    std::lock_guard lock{mutex_};
    return current_;
}

void tls_identity::reload() {
    std::string subject, not_after;
    auto fresh = load(subject, not_after);
    std::lock_guard lock{mutex_};
    current_ = std::move(fresh);
    subject_ = std::move(subject);
    not_after_ = std::move(not_after);
    metrics::global().tls_not_after_seconds.set(not_after_seconds(SSL_CTX_get0_certificate(current_->native_handle())));
}

std::shared_ptr<ssl::context> tls_identity::load(std::string& subject, std::string& not_after) const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    // TLS 1.2 and 1.3 with OpenSSL's default ciphers; no renegotiation, no
    // compression. OpenSSL frees its record buffers while a connection idles.
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(native, cert_file_.c_str()) != 1)
        throw tls_error("cannot use certificate " + cert_file_ + ": " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(native, key_file_.c_str(), SSL_FILETYPE_PEM) != 1)
        throw tls_error("cannot use private key " + key_file_ + ": " + openssl_error());
    if (SSL_CTX_check_private_key(native) != 1)
        throw tls_error("private key " + key_file_ + " does not match certificate " + cert_file_);
    X509* cert = SSL_CTX_get0_certificate(native);
    subject = subject_of(cert);
    not_after = not_after_of(cert);
    return ctx;
}

}  // namespace vigil::net
