#include "auth/jwt_verifier.hpp"

#include "common/base64.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <jwt.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

namespace vigil::auth {

namespace {

struct auth_category_impl final : boost::system::error_category {
    char const* name() const noexcept override { return "vigil.auth"; }
    std::string message(int ev) const override { return std::string{error_code_name(auth_error(ev))}; }
};

struct jwt_deleter {
    void operator()(jwt_t* p) const noexcept { jwt_free(p); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;

struct free_deleter {
    void operator()(char* p) const noexcept { std::free(p); }
};

bool is_base64url(std::string_view s) {
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

// A base64url segment (unpadded, as JWTs carry them) parsed as a JSON object.
std::optional<boost::json::object> json_segment(std::string_view segment) {
    std::string text{segment};
    for (char& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
    if (text.size() % 4 == 1) return std::nullopt;
    text.append((4 - text.size() % 4) % 4, '=');
    auto const bytes = base64_decode(text);
    if (!bytes) return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(*bytes, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

// Claims that may be a string or a list of strings (`aud`, `roles`).
std::vector<std::string> string_list(jwt_t* jwt, char const* name) {
    std::vector<std::string> out;
    if (char const* one = jwt_get_grant(jwt, name)) {
        out.emplace_back(one);
        return out;
    }
    std::unique_ptr<char, free_deleter> json{jwt_get_grants_json(jwt, name)};
    if (!json) return out;
    boost::system::error_code ec;
    auto const v = boost::json::parse(json.get(), ec);
    if (ec || !v.is_array()) return out;
    for (auto const& item : v.get_array())
        if (item.is_string()) out.emplace_back(item.get_string());
    return out;
}

// An integer claim, or nothing when absent or not an integer.
std::optional<long> int_claim(jwt_t* jwt, char const* name) {
    errno = 0;
    long const v = jwt_get_grant_int(jwt, name);
    if (errno != 0) return std::nullopt;
    return v;
}

}  // namespace

boost::system::error_category const& auth_category() noexcept {
    static auth_category_impl const instance;
    return instance;
}

int http_status(auth_error e) noexcept {
    return (e == auth_error::wrong_user || e == auth_error::forbidden) ? 403 : 401;
}

std::string_view error_code_name(auth_error e) noexcept {
    switch (e) {
        case auth_error::missing_token: return "missing_token";
        case auth_error::malformed: return "malformed_token";
        case auth_error::bad_signature: return "invalid_signature";
        case auth_error::wrong_algorithm: return "wrong_algorithm";
        case auth_error::expired: return "token_expired";
        case auth_error::missing_exp: return "missing_exp";
        case auth_error::not_yet_valid: return "token_not_yet_valid";
        case auth_error::wrong_issuer: return "wrong_issuer";
        case auth_error::wrong_audience: return "wrong_audience";
        case auth_error::missing_subject: return "missing_subject";
        case auth_error::wrong_user: return "wrong_user";
        case auth_error::forbidden: return "forbidden";
        case auth_error::unknown_api_key: return "invalid_api_key";
    }
    return "invalid_token";
}

jwt_verifier::jwt_verifier(jwt_settings const& settings) : settings_(settings) {
    alg_ = jwt_str_alg(settings.algorithm.c_str());
    if (alg_ != JWT_ALG_HS256 && alg_ != JWT_ALG_RS256 && alg_ != JWT_ALG_ES256)
        throw config_error("unsupported JWT algorithm " + settings.algorithm);
    if (alg_ == JWT_ALG_HS256) {
        key_ = settings.secret;
        if (key_.empty()) throw config_error("HS256 needs a secret");
    } else {
        std::ifstream in{settings.public_key_file, std::ios::binary};
        if (!in) throw config_error("cannot read JWT public key " + settings.public_key_file);
        std::ostringstream pem;
        pem << in.rdbuf();
        key_ = pem.str();
        if (key_.find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
            throw config_error(settings.public_key_file + " is not a PEM public key");
    }
}

boost::system::result<claims> jwt_verifier::verify(std::string_view token, std::int64_t now) const {
    if (token.empty()) return auth_error::missing_token;
    if (token.size() > max_token_bytes) return auth_error::malformed;
    auto const dot1 = token.find('.');
    auto const dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos || dot1 == 0 ||
        dot2 == dot1 + 1 || !is_base64url(token.substr(0, dot1)) ||
        !is_base64url(token.substr(dot1 + 1, dot2 - dot1 - 1)) || !is_base64url(token.substr(dot2 + 1)))
        return auth_error::malformed;
    // Three base64url parts is not yet a JWT: its header and payload must be
    // JSON objects. Only then is a failure the signature's.
    auto const header = json_segment(token.substr(0, dot1));
    if (!header || !json_segment(token.substr(dot1 + 1, dot2 - dot1 - 1))) return auth_error::malformed;
    auto const* alg = header->if_contains("alg");
    if (!alg || !alg->is_string()) return auth_error::malformed;
    // An unsigned token has an empty third segment; never hand it to the decoder
    // with a key, whatever its header claims. Nor one signed with another algorithm.
    if (dot2 + 1 == token.size() || alg->get_string() != settings_.algorithm) return auth_error::wrong_algorithm;

    std::string const text{token};
    jwt_t* raw = nullptr;
    int const rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<unsigned char const*>(key_.data()),
                              static_cast<int>(key_.size()));
    jwt_ptr jwt{raw};
    if (rc != 0 || !jwt) return auth_error::bad_signature;
    if (jwt_get_alg(jwt.get()) != alg_) return auth_error::wrong_algorithm;

    claims out;
    auto const exp = int_claim(jwt.get(), "exp");
    if (!exp) return auth_error::missing_exp;
    if (*exp + settings_.leeway_seconds <= now) return auth_error::expired;
    out.expires_at = *exp;
    if (auto const nbf = int_claim(jwt.get(), "nbf"); nbf && *nbf - settings_.leeway_seconds > now)
        return auth_error::not_yet_valid;
    if (!settings_.issuer.empty()) {
        char const* iss = jwt_get_grant(jwt.get(), "iss");
        if (!iss || settings_.issuer != iss) return auth_error::wrong_issuer;
    }
    if (!settings_.audience.empty()) {
        auto const aud = string_list(jwt.get(), "aud");
        if (std::find(aud.begin(), aud.end(), settings_.audience) == aud.end()) return auth_error::wrong_audience;
    }
    char const* subject_claim = settings_.subject_claim.c_str();
    if (char const* sub = jwt_get_grant(jwt.get(), subject_claim)) {
        out.subject = sub;
    } else if (auto const n = int_claim(jwt.get(), subject_claim)) {
        out.subject = std::to_string(*n);
    }
    if (out.subject.empty()) return auth_error::missing_subject;
    out.roles = string_list(jwt.get(), "roles");
    if (char const* role = jwt_get_grant(jwt.get(), "role")) out.roles.emplace_back(role);
    return out;
}

}  // namespace vigil::auth
