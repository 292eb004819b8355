#include "app/doctor.hpp"

#include "auth/token_minter.hpp"
#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>

namespace vigil::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

std::string ms(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f ms" : "%.0f ms", v);
    return buf;
}

// ---------------------------------------------------------------- findings

enum class level { ok, warn, fail, skip };

// Prints each finding as it is made, so a hanging check shows where it hangs.
class report {
public:
    void add(level l, std::string_view check, std::string const& detail, std::string const& fix = {}) {
        static constexpr char const* names[] = {"ok  ", "WARN", "FAIL", "skip"};
        std::string name{check};
        name.resize(std::max<std::size_t>(name.size(), 11), ' ');
        std::cout << "  " << names[int(l)] << "  " << name << "  " << detail << "\n";
        if (!fix.empty()) std::cout << "        fix: " << fix << "\n";
        std::cout.flush();
        ++counts_[int(l)];
    }
    int exit_code() const { return counts_[int(level::fail)] > 0 ? 1 : 0; }
    void summary() const {
        std::cout << "vigil doctor: " << counts_[0] + counts_[1] + counts_[2] << " checks, "
                  << counts_[int(level::fail)] << " failing, " << counts_[int(level::warn)] << " warning(s)"
                  << (counts_[int(level::skip)] ? ", " + std::to_string(counts_[int(level::skip)]) + " skipped" : "")
                  << "\n";
    }

private:
    int counts_[4] = {};
};

// ---------------------------------------------------------------- tokens

std::optional<std::string> base64url_decode(std::string_view in) {
    std::string s{in};
    std::replace(s.begin(), s.end(), '-', '+');
    std::replace(s.begin(), s.end(), '_', '/');
    while (s.size() % 4) s.push_back('=');
    return base64_decode(s);
}

std::string base64url_encode(std::string_view bytes) {
    std::string s = base64_encode(bytes);
    while (!s.empty() && s.back() == '=') s.pop_back();
    std::replace(s.begin(), s.end(), '+', '-');
    std::replace(s.begin(), s.end(), '/', '_');
    return s;
}

struct decoded_token {
    json::object header, payload;
    std::string signing_input, signature;
};

std::optional<decoded_token> decode_token(std::string_view token) {
    auto const d1 = token.find('.');
    auto const d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos) return std::nullopt;
    auto const h = base64url_decode(token.substr(0, d1));
    auto const p = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    if (!h || !p) return std::nullopt;
    boost::system::error_code ec1, ec2;
    auto hv = json::parse(*h, ec1);
    auto pv = json::parse(*p, ec2);
    if (ec1 || ec2 || !hv.is_object() || !pv.is_object()) return std::nullopt;
    return decoded_token{hv.as_object(), pv.as_object(), std::string{token.substr(0, d2)},
                         std::string{token.substr(d2 + 1)}};
}

std::optional<std::int64_t> int_claim(json::object const& o, std::string_view name) {
    auto const* v = o.if_contains(name);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return std::int64_t(v->as_uint64());
    if (v->is_double()) return std::int64_t(v->as_double());
    return std::nullopt;
}

std::string string_claim(json::object const& o, std::string_view name) {
    auto const* v = o.if_contains(name);
    if (!v) return {};
    if (v->is_string()) return std::string{v->as_string()};
    if (v->is_int64()) return std::to_string(v->as_int64());
    return {};
}

bool hs256_matches(decoded_token const& t, std::string const& secret) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), int(secret.size()),
         reinterpret_cast<unsigned char const*>(t.signing_input.data()), t.signing_input.size(), mac, &len);
    auto const expected = base64url_encode({reinterpret_cast<char const*>(mac), len});
    return expected.size() == t.signature.size() &&
           CRYPTO_memcmp(expected.data(), t.signature.data(), expected.size()) == 0;
}

std::string duration_words(std::int64_t seconds) {
    auto const a = seconds < 0 ? -seconds : seconds;
    if (a < 120) return std::to_string(a) + " s";
    if (a < 7200) return std::to_string(a / 60) + " min";
    if (a < 172800) return std::to_string(a / 3600) + " h";
    return std::to_string(a / 86400) + " days";
}

// What the server's refusal codes (docs/protocol.md) mean for the operator.
std::string fix_for_refusal(std::string const& code, std::string const& user) {
    if (code == "invalid_signature")
        return "the server verifies with another secret or key than the token's issuer signed with: give the "
               "issuer the server's VIGIL_JWT_SECRET (/etc/vigil/vigil.env), or the server its public key";
    if (code == "token_expired") return "mint a new token (`vigil token --user " + user + "`, or your issuer)";
    if (code == "token_not_yet_valid") return "the token's nbf is ahead of the server's clock: synchronise both clocks";
    if (code == "wrong_user") return "connect to /ws/alerts/<the token's subject>, or mint a token for " + user;
    if (code == "missing_exp") return "the server requires an exp claim: have the issuer set one";
    if (code == "missing_subject") return "the token needs the subject claim the server reads (--jwt-subject-claim)";
    if (code == "wrong_algorithm")
        return "the token's alg differs from the server's --jwt-algorithm: sign with that one";
    if (code == "wrong_issuer" || code == "wrong_audience")
        return "the server checks --jwt-issuer/--jwt-audience: have the issuer set the same iss/aud";
    if (code == "malformed_token" || code == "missing_token") return "give a complete JWT (three base64url parts)";
    if (code == "origin_not_allowed") return "add this page's origin to --allowed-origins";
    if (code == "too_many_connections" || code == "too_many_handshakes" || code == "rate_limited")
        return "the server's admission limits refused it: retry later, or raise --max-connections / "
               "--handshakes-per-second";
    return "read the server's log around this time (journalctl -u vigil)";
}

// ---------------------------------------------------------------- the target

struct target {
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;
    std::string host_header() const { return host + ":" + std::to_string(port); }
};

std::optional<target> parse_target(std::string const& url) {
    auto const u = boost::urls::parse_uri(url);
    if (!u || u->host().empty()) return std::nullopt;
    auto const scheme = u->scheme();
    target t;
    if (scheme == "https" || scheme == "wss")
        t.tls = true;
    else if (scheme != "http" && scheme != "ws")
        return std::nullopt;
    t.host = std::string{u->encoded_host_address()};
    if (!t.host.empty() && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
    t.port = u->has_port() ? u->port_number() : std::uint16_t(t.tls ? 8443 : 8000);
    return t;
}

struct options {
    std::string url, user, token, publisher_token, ca_file, subject_claim = "sub";
    double timeout_s = 5;
};

// ---------------------------------------------------------------- checks

// One connection (plain or TLS) at a time; every operation has the deadline.
template <class Stream>
class probe {
public:
    probe(asio::io_context& io, target const& t, options const& o, asio::ssl::context* ssl)
        : io_(io), t_(t), o_(o), ssl_(ssl) {}

    // A new stream, connected (and TLS-handshaken). Error text on failure.
    std::optional<std::string> open(std::unique_ptr<Stream>& out, tcp::resolver::results_type const& endpoints) {
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
            out = std::make_unique<Stream>(io_);
        else
            out = std::make_unique<Stream>(io_, *ssl_);
        auto& lowest = beast::get_lowest_layer(*out);
        beast::error_code ec;
        lowest.expires_after(deadline());
        lowest.async_connect(endpoints, [&](beast::error_code e, tcp::endpoint const&) { ec = e; });
        run();
        if (ec) return "cannot connect to " + t_.host_header() + ": " + ec.message();
        if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
            SSL_set_tlsext_host_name(out->native_handle(), t_.host.c_str());
            SSL_set1_host(out->native_handle(), t_.host.c_str());
            lowest.expires_after(deadline());
            out->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
            run();
            if (ec) return "TLS handshake with " + t_.host_header() + " failed: " + ec.message();
        }
        lowest.expires_never();
        return std::nullopt;
    }

    // One HTTP request on a new connection.
    std::optional<http::response<http::string_body>> request(tcp::resolver::results_type const& endpoints,
                                                             http::verb verb, std::string const& path,
                                                             std::string const& bearer, std::string body,
                                                             std::string& error) {
        std::unique_ptr<Stream> s;
        if (auto e = open(s, endpoints)) {
            error = *e;
            return std::nullopt;
        }
        http::request<http::string_body> req{verb, path, 11};
        req.set(http::field::host, t_.host_header());
        req.set(http::field::user_agent, "vigil-doctor");
        if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = std::move(body);
        }
        req.prepare_payload();
        beast::error_code ec;
        beast::get_lowest_layer(*s).expires_after(deadline());
        http::async_write(*s, req, [&](beast::error_code e, std::size_t) { ec = e; });
        run();
        http::response<http::string_body> res;
        beast::flat_buffer buffer;
        if (!ec) {
            beast::get_lowest_layer(*s).expires_after(deadline());
            http::async_read(*s, buffer, res, [&](beast::error_code e, std::size_t) { ec = e; });
            run();
        }
        if (ec) {
            error = path + ": " + ec.message();
            return std::nullopt;
        }
        return res;
    }

    using ws_type = websocket::stream<Stream>;

    // The WebSocket upgrade; on refusal `res` holds the server's answer.
    std::optional<std::string> upgrade(ws_type& ws, std::string const& path, websocket::response_type& res) {
        beast::error_code ec;
        beast::get_lowest_layer(ws).expires_after(deadline());
        ws.async_handshake(res, t_.host_header(), path, [&](beast::error_code e) { ec = e; });
        run();
        beast::get_lowest_layer(ws).expires_never();
        if (ec) return ec.message();
        return std::nullopt;
    }

    std::optional<std::string> send(ws_type& ws, std::string const& text) {
        beast::error_code ec;
        beast::get_lowest_layer(ws).expires_after(deadline());
        ws.text(true);
        ws.async_write(asio::buffer(text), [&](beast::error_code e, std::size_t) { ec = e; });
        run();
        if (ec) return ec.message();
        return std::nullopt;
    }

    // Reads messages until `want` accepts one or `limit` passes.
    template <class Pred>
    std::optional<json::object> read_until(ws_type& ws, std::chrono::milliseconds limit, Pred want,
                                           std::string& error) {
        auto const end = clock_type::now() + limit;
        beast::flat_buffer buffer;
        while (clock_type::now() < end) {
            beast::error_code ec;
            beast::get_lowest_layer(ws).expires_at(end);
            ws.async_read(buffer, [&](beast::error_code e, std::size_t) { ec = e; });
            run();
            if (ec) {
                error = ec == beast::error::timeout ? "no answer within " + std::to_string(limit.count()) + " ms"
                                                    : ec.message();
                if (ec == websocket::error::closed)
                    error = "closed by the server: " + std::to_string(ws.reason().code) + " " +
                            std::string{ws.reason().reason.data(), ws.reason().reason.size()};
                return std::nullopt;
            }
            boost::system::error_code jec;
            auto v = json::parse(beast::buffers_to_string(buffer.data()), jec);
            buffer.consume(buffer.size());
            if (!jec && v.is_object() && want(v.as_object())) return v.as_object();
        }
        error = "no answer within " + std::to_string(limit.count()) + " ms";
        return std::nullopt;
    }

    std::chrono::milliseconds deadline() const { return std::chrono::milliseconds{long(o_.timeout_s * 1000)}; }

private:
    void run() {
        io_.restart();
        io_.run();
    }

    asio::io_context& io_;
    target const& t_;
    options const& o_;
    asio::ssl::context* ssl_;
};

// The server's Date (IMF-fixdate) as seconds since the epoch.
std::optional<std::int64_t> parse_http_date(std::string const& s) {
    std::tm tm{};
    char const* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end) return std::nullopt;
    return std::int64_t(timegm(&tm));
}

// The peer certificate's expiry, and whether it verified (chain and host name).
void check_certificate(report& r, SSL* ssl, std::string const& ca_file) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) {
        r.add(level::fail, "tls", "the server sent no certificate", "configure --tls-cert and --tls-key");
        return;
    }
    int days = 0, seconds = 0;
    ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert));
    char subject[256] = {};
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    X509_free(cert);
    long const verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        r.add(level::fail, "tls",
              std::string{"certificate "} + subject + " not trusted: " + X509_verify_cert_error_string(verify),
              ca_file.empty() ? "serve the whole chain (--tls-cert fullchain.pem) with a name that matches the URL, "
                                "or give --ca-file with the CA that issued it"
                              : "check that --ca-file issued this certificate and that its names cover the URL's host");
    } else {
        r.add(level::ok, "tls", std::string{"certificate "} + subject + " trusted, names match");
    }
    if (days < 0 || (days == 0 && seconds < 0))
        r.add(level::fail, "certificate", "expired " + duration_words(-(std::int64_t(days) * 86400 + seconds)) + " ago",
              "renew it, then `systemctl reload vigil` (SIGHUP) loads the new pair without dropping connections");
    else if (days < 14)
        r.add(level::warn, "certificate", "expires in " + duration_words(std::int64_t(days) * 86400 + seconds),
              "renew it soon; SIGHUP (`systemctl reload vigil`) loads the new pair without dropping connections");
    else
        r.add(level::ok, "certificate", "valid for " + std::to_string(days) + " more days");
}

template <class Stream>
int run_checks(options const& o, target const& t, asio::ssl::context* ssl) {
    report r;
    asio::io_context io;
    probe<Stream> p{io, t, o, ssl};
    std::cout << "vigil doctor " << o.url << " --user " << o.user << "\n";

    // 1. Reachability (the quick reference's "Check backend is running").
    tcp::resolver resolver{io};
    beast::error_code ec;
    auto const endpoints = resolver.resolve(t.host, std::to_string(t.port), ec);
    if (ec) {
        r.add(level::fail, "reachable", "cannot resolve " + t.host + ": " + ec.message(),
              "check the host name in the URL and this machine's DNS");
        r.summary();
        return r.exit_code();
    }
    {
        auto const started = clock_type::now();
        std::unique_ptr<Stream> s;
        if (auto e = p.open(s, endpoints)) {
            bool const tls_failed = e->rfind("TLS", 0) == 0;
            r.add(level::fail, tls_failed ? "tls" : "reachable", *e,
                  tls_failed ? "the port does not speak TLS, or not a version vigil serves (1.2+): use http:// or "
                               "ws:// for the plain listener, https:// or wss:// for --tls-port"
                             : "start the server (`systemctl start vigil`, or `vigil serve`), and check the URL's "
                               "host and port against --host/--port and any firewall in between");
            r.summary();
            return r.exit_code();
        }
        r.add(level::ok, "reachable", t.host_header() + " accepted a connection in " + ms(ms_since(started)));
        if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) check_certificate(r, s->native_handle(), o.ca_file);
    }

    // 2. /health, and the clock from its Date.
    std::string error;
    auto const asked = std::time(nullptr);
    auto health = p.request(endpoints, http::verb::get, "/health", "", "", error);
    auto const answered = std::time(nullptr);
    if (!health) {
        r.add(level::fail, "health", error, "the port accepts connections but does not answer HTTP: is it vigil?");
    } else if (health->result() != http::status::ok) {
        r.add(level::fail, "health",
              "GET /health answered " + std::to_string(health->result_int()) + " " + health->body().substr(0, 200),
              health->result() == http::status::service_unavailable
                  ? "the server is shutting down: wait for it to restart"
                  : "the URL reaches something other than vigil (a proxy?): point it at vigil's port");
    } else {
        r.add(level::ok, "health", health->body());
        auto const date = health->find(http::field::date);
        if (date == health->end()) {
            r.add(level::warn, "clock", "the server sent no Date header, so its clock cannot be compared",
                  "keep both machines on NTP (chrony or systemd-timesyncd)");
        } else if (auto const server_time = parse_http_date(std::string{date->value()})) {
            // Date has whole seconds: skew within the request's own duration + 1 s is none.
            std::int64_t skew = 0;
            if (*server_time < asked - 1) skew = *server_time - asked;
            if (*server_time > answered + 1) skew = *server_time - answered;
            auto const a = skew < 0 ? -skew : skew;
            std::string const what = skew == 0 ? "the server's clock agrees with this machine's (±1 s)"
                                               : std::string{"the server's clock is "} + duration_words(a) +
                                                     (skew > 0 ? " ahead of" : " behind") + " this machine's";
            std::string const fix =
                "synchronise both clocks with NTP (chrony or systemd-timesyncd): tokens' exp "
                "and nbf are checked against the server's clock";
            r.add(a <= 2 ? level::ok : a <= 30 ? level::warn : level::fail, "clock", what, a <= 2 ? "" : fix);
        } else {
            r.add(level::warn, "clock", "unreadable Date header: " + std::string{date->value()});
        }
    }

    // 3. The token: given, from VIGIL_TOKEN, or minted from VIGIL_JWT_SECRET.
    char const* secret_env = std::getenv("VIGIL_JWT_SECRET");
    std::string const secret = secret_env ? secret_env : "";
    std::string token = o.token;
    std::string token_source = "--token";
    if (token.empty())
        if (char const* env = std::getenv("VIGIL_TOKEN"); env && *env) token = env, token_source = "VIGIL_TOKEN";
    if (token.empty() && !secret.empty()) {
        token = auth::mint_hs256(secret, o.user, "", 600, now_ms() / 1000);
        token_source = "minted here from VIGIL_JWT_SECRET";
    }
    bool token_usable = false;
    if (token.empty()) {
        r.add(level::fail, "token", "no token to connect with",
              "give --token, or set VIGIL_TOKEN, or VIGIL_JWT_SECRET to mint one");
    } else if (auto const d = decode_token(token); !d) {
        r.add(level::fail, "token", "not a JWT (" + token_source + "): it needs three base64url parts with JSON",
              "copy the whole token, without quotes or a 'Bearer ' prefix");
    } else {
        token_usable = true;
        auto const alg = string_claim(d->header, "alg");
        auto const sub = string_claim(d->payload, o.subject_claim);
        auto const exp = int_claim(d->payload, "exp");
        auto const nbf = int_claim(d->payload, "nbf");
        auto const now = std::int64_t(std::time(nullptr));
        std::string const about =
            alg + ", " + o.subject_claim + " " + (sub.empty() ? "(none)" : sub) + " (" + token_source + ")";
        if (!exp) {
            r.add(level::fail, "token", about + ": no exp claim", "vigil requires exp: have the issuer set one");
        } else if (*exp <= now) {
            r.add(level::fail, "token", about + ": expired " + duration_words(now - *exp) + " ago",
                  "mint a new token (`vigil token --user " + o.user + "`, or your issuer)");
        } else if (nbf && *nbf > now) {
            r.add(level::fail, "token", about + ": not valid for another " + duration_words(*nbf - now),
                  "the issuer's clock is ahead: synchronise clocks, or wait");
        } else if (sub != o.user) {
            r.add(level::fail, "token", about + ": its subject is not " + o.user,
                  "the token's " + o.subject_claim + " must be the user in /ws/alerts/{user_id}: mint one for " +
                      o.user + ", or run doctor with --user " + (sub.empty() ? "<subject>" : sub));
        } else if (*exp - now < 300) {
            r.add(level::warn, "token", about + ": expires in " + duration_words(*exp - now),
                  "clients must refresh it before then (the `refresh` message), or the server closes with 4003");
        } else {
            r.add(level::ok, "token", about + ", expires in " + duration_words(*exp - now));
        }
        if (alg != "HS256") {
            r.add(level::skip, "signature", alg + ": checked by the server at the upgrade below");
        } else if (secret.empty()) {
            r.add(level::skip, "signature",
                  "not checked here: set VIGIL_JWT_SECRET to the server's secret to check it");
        } else if (hs256_matches(*d, secret)) {
            r.add(level::ok, "signature", "HS256 signature matches VIGIL_JWT_SECRET");
            if (secret.size() < 32)
                r.add(level::warn, "secret", "VIGIL_JWT_SECRET has " + std::to_string(secret.size()) + " bytes",
                      "use at least 32 random bytes (`openssl rand -hex 32`): the server refuses shorter ones "
                      "outside --dev");
        } else {
            r.add(level::fail, "signature", "the token was not signed with VIGIL_JWT_SECRET",
                  "the token's issuer and this VIGIL_JWT_SECRET differ: use the server's secret "
                  "(/etc/vigil/vigil.env) for both");
        }
    }
    if (!token_usable) {
        r.summary();
        return r.exit_code();
    }

    // 4. The WebSocket upgrade, ping/pong round trips, and a test alert.
    std::unique_ptr<Stream> s;
    if (auto e = p.open(s, endpoints)) {
        r.add(level::fail, "websocket", *e, "the server stopped answering between checks: run doctor again");
        r.summary();
        return r.exit_code();
    }
    typename probe<Stream>::ws_type ws{std::move(*s)};
    websocket::response_type res;
    std::string const path = "/ws/alerts/" + boost::urls::encode(o.user, boost::urls::pchars) + "?token=" + token;
    auto const started = clock_type::now();
    if (auto e = p.upgrade(ws, path, res)) {
        std::string code;
        boost::system::error_code jec;
        auto const body = json::parse(res.body(), jec);
        if (!jec && body.is_object()) code = string_claim(body.as_object(), "error");
        r.add(level::fail, "websocket",
              res.result_int() ? "upgrade refused: HTTP " + std::to_string(res.result_int()) + " " + res.body()
                               : "upgrade failed: " + *e,
              res.result_int() ? fix_for_refusal(code, o.user)
                               : "a proxy in between may not pass WebSocket upgrades (Upgrade and Connection "
                                 "headers): configure it to");
        r.summary();
        return r.exit_code();
    }
    r.add(level::ok, "websocket", "upgraded to /ws/alerts/" + o.user + " in " + ms(ms_since(started)));

    double best = 1e9;
    for (int i = 0; i < 3; ++i) {
        auto const sent = clock_type::now();
        auto err = p.send(ws, R"({"type":"ping"})");
        std::optional<json::object> pong;
        if (!err)
            pong = p.read_until(
                ws, p.deadline(), [](json::object const& m) { return string_claim(m, "type") == "pong"; }, error);
        if (err || !pong) {
            r.add(level::fail, "ping", "no pong: " + (err ? *err : error),
                  "the server is overloaded, or something in between holds WebSocket frames back: check the "
                  "server's CPU and any proxy's WebSocket support and idle timeout (≥ the 30 s ping interval)");
            r.summary();
            return r.exit_code();
        }
        best = std::min(best, ms_since(sent));
    }
    r.add(best < 250 ? level::ok : level::warn, "ping", "pong in " + ms(best) + " (best of 3)",
          best < 250 ? "" : "a slow round trip: check the network path and the server's load");

    if (o.publisher_token.empty()) {
        r.add(level::skip, "test alert", "give --publisher-token to publish one end to end");
    } else {
        auto const key = "vigil-doctor-" + new_alert_id();
        json::object body{{"user_id", o.user},
                          {"stream_id", "vigil-doctor"},
                          {"idempotency_key", key},
                          {"detection", json::object{{"type", "vigil_doctor_test"}, {"confidence", 1.0}}}};
        auto const published = clock_type::now();
        auto answer =
            p.request(endpoints, http::verb::post, "/api/v1/alerts", o.publisher_token, json::serialize(body), error);
        std::string alert_id;
        if (answer && answer->result() == http::status::created) {
            boost::system::error_code jec;
            auto const v = json::parse(answer->body(), jec);
            if (!jec && v.is_object()) alert_id = string_claim(v.as_object(), "alert_id");
        }
        if (!answer) {
            r.add(level::fail, "test alert", "publish failed: " + error, "run doctor again; read the server's log");
        } else if (alert_id.empty()) {
            r.add(level::fail, "test alert",
                  "publish answered " + std::to_string(answer->result_int()) + " " + answer->body().substr(0, 200),
                  answer->result_int() == 401 || answer->result_int() == 403
                      ? "the publisher token must carry the publisher (or admin) role and the server's signature"
                      : "read the server's log around this time (journalctl -u vigil)");
        } else {
            auto const delivered = p.read_until(
                ws, std::chrono::milliseconds{long(o.timeout_s * 2000)},
                [&](json::object const& m) {
                    return string_claim(m, "type") == "anomaly_detected" && string_claim(m, "alert_id") == alert_id;
                },
                error);
            if (!delivered) {
                r.add(level::fail, "test alert", "published " + alert_id + " but not delivered: " + error,
                      "another client connected as " + o.user +
                          " may have replaced this one (4001), or the "
                          "store is stalled: read the server's log");
            } else {
                auto const latency = ms_since(published);
                auto err = p.send(ws, json::serialize(json::object{{"type", "ack"}, {"alert_id", alert_id}}));
                std::optional<json::object> acked;
                if (!err)
                    acked = p.read_until(
                        ws, p.deadline(),
                        [&](json::object const& m) {
                            return string_claim(m, "type") == "ack_ok" && string_claim(m, "alert_id") == alert_id;
                        },
                        error);
                if (acked)
                    r.add(level::ok, "test alert", "published, delivered in " + ms(latency) + ", acknowledged");
                else
                    r.add(level::fail, "test alert", "delivered but the ack was not confirmed: " + (err ? *err : error),
                          "read the server's log around this time");
            }
        }
    }
    beast::error_code close_ec;
    beast::get_lowest_layer(ws).expires_after(p.deadline());
    ws.async_close(websocket::close_code::normal, [&](beast::error_code e) { close_ec = e; });
    io.restart();
    io.run();
    r.summary();
    return r.exit_code();
}

}  // namespace

std::function<int()> add_doctor(CLI::App& app) {
    auto o = std::make_shared<options>();
    auto* cmd =
        app.add_subcommand("doctor",
                           "check a running server from the outside: reachability, TLS, /health, clock, token, "
                           "WebSocket upgrade, ping/pong, and a test alert end to end; each finding with a fix");
    cmd->add_option("url", o->url, "the server: http://, https://, ws:// or wss://host[:port]")->required();
    cmd->add_option("--user", o->user, "the user to connect as")->required();
    cmd->add_option("--token", o->token,
                    "the user's JWT (default: VIGIL_TOKEN, or minted from VIGIL_JWT_SECRET, which also lets "
                    "doctor check a token's signature)");
    cmd->add_option("--publisher-token", o->publisher_token,
                    "a publisher's JWT or API key: publish a test alert to the user and check it arrives");
    cmd->add_option("--ca-file", o->ca_file, "PEM CA certificates to trust for https:// and wss://")
        ->check(CLI::ExistingFile);
    cmd->add_option("--subject-claim", o->subject_claim, "the claim the server compares with the user")
        ->capture_default_str();
    cmd->add_option("--timeout", o->timeout_s, "seconds to wait for each answer")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 600.0));
    return [cmd, o]() -> int {
        if (!*cmd) return -1;
        auto const t = parse_target(o->url);
        if (!t) {
            std::cerr << "vigil doctor: expected a URL such as http://localhost:8000 or wss://alerts.example.com\n";
            return 2;
        }
        if (!t->tls) return run_checks<beast::tcp_stream>(*o, *t, nullptr);
        asio::ssl::context ssl{asio::ssl::context::tls_client};
        ssl.set_default_verify_paths();
        if (!o->ca_file.empty()) ssl.load_verify_file(o->ca_file);
        // Verified after the handshake (SSL_get_verify_result), so that an
        // untrusted or expired certificate is reported, not just refused.
        ssl.set_verify_mode(asio::ssl::verify_peer);
        ssl.set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
        return run_checks<beast::ssl_stream<beast::tcp_stream>>(*o, *t, &ssl);
    };
}

}  // namespace vigil::cli
