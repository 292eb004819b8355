#include "net/static_files.hpp"

#include "common/log.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vigil::net {

namespace {

bool plain_name(std::string_view n) {
    if (n.empty() || n.front() == '.' || n.size() > 128) return false;
    for (char c : n)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    return true;
}

std::string content_type_for(std::string_view name) {
    auto const ext = name.substr(name.rfind('.') == std::string_view::npos ? name.size() : name.rfind('.'));
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".json" || ext == ".map") return "application/json";
    if (ext == ".txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

}  // namespace

void static_files::load(std::string const& dir) {
    namespace fs = std::filesystem;
    files_.clear();
    root_ = dir;
    std::error_code ec;
    if (dir.empty() || !fs::is_directory(dir, ec)) return;
    std::size_t total = 0;
    for (auto const& entry : fs::directory_iterator{dir, ec}) {
        auto const name = entry.path().filename().string();
        if (!entry.is_regular_file(ec) || !plain_name(name)) continue;
        std::ifstream in{entry.path(), std::ios::binary};
        std::ostringstream body;
        body << in.rdbuf();
        total += body.str().size();
        if (total > 16 * 1024 * 1024) {
            log::warn("web.too_large", {{"root", dir}});
            break;
        }
        files_[name] = static_file{content_type_for(name), body.str()};
    }
}

static_file const* static_files::find(std::string_view name) const {
    if (name.empty()) name = "index.html";
    auto it = files_.find(name);
    return it == files_.end() ? nullptr : &it->second;
}

}  // namespace vigil::net
