#include "net/request_auth.hpp"

#include "common/clock.hpp"
#include "net/request_log.hpp"

namespace vigil::net {

namespace {

std::string_view detail_for(auth::auth_error e) {
    using auth::auth_error;
    switch (e) {
        case auth_error::missing_token: return "credentials required: Authorization: Bearer <token>";
        case auth_error::malformed:
            return "not a JWT (three base64url parts, the first two JSON objects) nor a configured API key";
        case auth_error::bad_signature: return "token signature does not verify with the configured key";
        case auth_error::wrong_algorithm: return "token algorithm is not the configured one";
        case auth_error::expired: return "token expired";
        case auth_error::missing_exp: return "token has no exp claim";
        case auth_error::not_yet_valid: return "token is not valid yet (nbf)";
        case auth_error::wrong_issuer: return "token issuer (iss) is not the configured one";
        case auth_error::wrong_audience: return "token audience (aud) does not include the configured one";
        case auth_error::missing_subject: return "token has no subject claim";
        case auth_error::wrong_user: return "token subject does not match user_id";
        case auth_error::forbidden: return "credentials lack the role this needs";
        case auth_error::unknown_api_key: return "X-API-Key is not a configured API key";
    }
    return "credentials refused";
}

}  // namespace

std::string_view bearer_token(http_request const& req) {
    auto const it = req.find(http::field::authorization);
    if (it == req.end()) return {};
    std::string_view v = it->value();
    if (v.size() < 7 || !(v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) return {};
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
}

boost::system::result<auth::claims> authenticate(server_context& ctx, http_request const& req,
                                                 std::string_view query_token) {
    std::string_view credential = bearer_token(req);
    bool api_key_header = false;
    if (credential.empty())
        if (auto const it = req.find("X-API-Key"); it != req.end()) {
            credential = it->value();
            api_key_header = true;
        }
    if (credential.empty()) credential = query_token;
    if (credential.empty()) return auth::auth_error::missing_token;

    auto accepted = [](auth::claims c) {
        note_caller(c);  // for the access log (request_log.hpp)
        return c;
    };
    switch (ctx.api_keys.find(credential)) {
        case auth::api_keys::role::admin: return accepted(auth::claims{"api-key", 0, {"admin"}, true});
        case auth::api_keys::role::publisher: return accepted(auth::claims{"api-key", 0, {"publisher"}, true});
        case auth::api_keys::role::none: break;
    }
    // X-API-Key carries keys only: a wrong one is not a malformed token.
    if (api_key_header) return auth::auth_error::unknown_api_key;
    auto const now = now_ms() / 1000;
    if (auto known = ctx.api_tokens.find(credential, now)) return accepted(std::move(*known));
    auto claims = ctx.verifier.verify(credential, now);
    if (!claims) return claims;
    if (claims->expires_at > 0) ctx.api_tokens.remember(credential, *claims);
    return accepted(std::move(*claims));
}

boost::system::result<auth::claims> authenticate_monitoring(server_context& ctx, http_request const& req,
                                                            boost::asio::ip::address const& remote) {
    bool const presents_credentials =
        req.find(http::field::authorization) != req.end() || req.find("X-API-Key") != req.end();
    if (ctx.config.dev && remote.is_loopback() && !presents_credentials) {
        auth::claims dev{"dev-loopback", 0, {"admin"}};
        note_caller(dev);
        return dev;
    }
    auto claims = authenticate(ctx, req);
    if (!claims) return claims;
    if (!claims->is_admin()) return auth::auth_error::forbidden;
    return claims;
}

http_response auth_failure(auth::auth_error e, http_request const& req) {
    auto res =
        json_error(static_cast<http::status>(auth::http_status(e)), auth::error_code_name(e), detail_for(e), req);
    if (auth::http_status(e) == 401) res.set(http::field::www_authenticate, "Bearer");
    return res;
}

}  // namespace vigil::net
