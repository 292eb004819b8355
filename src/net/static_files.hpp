#pragma once
// The dashboard's files, read once at startup from the web root and served
// from memory at `/` (index.html) and `/<name>`. Flat: no subdirectories, so
// no path ever leaves the web root.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::net {

struct static_file {
    std::string content_type;
    std::string body;
};

class static_files {
public:
    // Loads the regular files of `dir` (names of [A-Za-z0-9._-], not starting
    // with '.', at most 16 MiB in all). An empty or missing dir serves nothing.
    void load(std::string const& dir);

    // `name` as in the request path without its leading '/'; "" is index.html.
    static_file const* find(std::string_view name) const;
    bool empty() const { return files_.empty(); }
    std::string const& root() const { return root_; }

private:
    std::map<std::string, static_file, std::less<>> files_;
    std::string root_;
};

}  // namespace vigil::net
