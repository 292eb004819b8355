#include "push/vapid.hpp"

#include "common/base64.hpp"
#include "common/log.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vigil::push {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_pem_bytes = 64 * 1024;

std::string errno_text(int e) { return std::strerror(e); }

// Closes a descriptor on every path.
struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

void write_all(int fd, std::string_view data, fs::path const& path) {
    while (!data.empty()) {
        ssize_t const n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw vapid_error("cannot write " + path.string() + ": " + errno_text(errno));
        data.remove_prefix(std::size_t(n));
    }
}

void sync_directory(fs::path const& dir) {
    fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd >= 0) ::fsync(d.fd);
}

}  // namespace

vapid_key::vapid_key(p256_key key) : key_(std::move(key)) {
    if (!key_.has_private()) throw vapid_error("a VAPID key needs its private key");
    public_key_ = base64url_encode(key_.public_point());
}

vapid_key vapid_key::load(fs::path const& pem_file) {
    std::error_code ec;
    auto const size = fs::file_size(pem_file, ec);
    if (ec) throw vapid_error("cannot read the VAPID key " + pem_file.string() + ": " + ec.message());
    if (size > max_pem_bytes) throw vapid_error("the VAPID key " + pem_file.string() + " is not a PEM key (too large)");
    std::ifstream in{pem_file, std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw vapid_error("cannot read the VAPID key " + pem_file.string());
    auto key = p256_key::from_pem(text.str());
    if (!key)
        throw vapid_error("the VAPID key " + pem_file.string() +
                          " is not an unencrypted P-256 private key in PEM (openssl ecparam -genkey -name prime256v1)");
    struct stat st {};
    if (::stat(pem_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
        log::warn("push.vapid_key_permissions",
                  {{"path", pem_file.string()}, {"detail", "readable by other users; chmod 600 it"}});
    return vapid_key{std::move(*key)};
}

vapid_key vapid_key::load_or_create(fs::path const& data_dir) {
    fs::path const path = data_dir / vapid_key_file_name;
    std::error_code ec;
    if (fs::exists(path, ec)) return load(path);
    fs::create_directories(data_dir, ec);
    if (ec) throw vapid_error("cannot create " + data_dir.string() + ": " + ec.message());

    auto key = p256_key::generate();
    std::string const pem = key.private_pem();
    unsigned char nonce[8];
    if (RAND_bytes(nonce, sizeof nonce) != 1) throw vapid_error("no randomness for a temporary file name");
    fs::path const tmp = data_dir / ("." + std::string{vapid_key_file_name} + "." +
                                     base64url_encode({reinterpret_cast<char*>(nonce), sizeof nonce}) + ".tmp");
    {
        fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
        if (f.fd < 0) throw vapid_error("cannot create " + tmp.string() + ": " + errno_text(errno));
        try {
            write_all(f.fd, pem, tmp);
            if (::fsync(f.fd) != 0) throw vapid_error("cannot sync " + tmp.string() + ": " + errno_text(errno));
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    // link() fails if the name exists, where rename() would replace a key
    // another process has just made and perhaps already served.
    int const linked = ::link(tmp.c_str(), path.c_str());
    int const link_errno = errno;
    ::unlink(tmp.c_str());
    if (linked != 0) {
        if (link_errno == EEXIST) return load(path);
        throw vapid_error("cannot create " + path.string() + ": " + errno_text(link_errno));
    }
    sync_directory(data_dir);
    log::info("push.vapid_key_created", {{"path", path.string()}});
    return vapid_key{std::move(key)};
}

std::string vapid_key::jwt(std::string_view audience, std::string_view subject, std::int64_t now_seconds,
                           std::int64_t ttl_seconds) const {
    std::int64_t const ttl = std::clamp<std::int64_t>(ttl_seconds, 60, vapid_max_ttl_seconds);
    boost::json::object claims;
    claims["aud"] = audience;
    claims["exp"] = now_seconds + ttl;
    claims["sub"] = subject;
    std::string const signing_input =
        base64url_encode(R"({"typ":"JWT","alg":"ES256"})") + "." + base64url_encode(boost::json::serialize(claims));
    auto const signature = key_.sign_es256(signing_input);
    if (!signature) throw vapid_error("OpenSSL could not sign the VAPID token");
    return signing_input + "." + base64url_encode(*signature);
}

std::string vapid_key::authorization(std::string_view audience, std::string_view subject, std::int64_t now_seconds,
                                     std::int64_t ttl_seconds) const {
    return "vapid t=" + jwt(audience, subject, now_seconds, ttl_seconds) + ", k=" + public_key_;
}

bool valid_vapid_subject(std::string_view subject) {
    if (subject.size() > 256) return false;
    for (char c : subject)
        if (c <= 0x20 || c >= 0x7f) return false;
    if (subject.starts_with("mailto:")) {
        auto const address = subject.substr(7);
        auto const at = address.find('@');
        return at != std::string_view::npos && at > 0 && at + 1 < address.size();
    }
    if (subject.starts_with("https://")) {
        auto const url = boost::urls::parse_absolute_uri(subject);
        return url && !url->encoded_host().empty();
    }
    return false;
}

}  // namespace vigil::push
