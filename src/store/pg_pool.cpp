#include "store/pg_pool.hpp"

#include "common/metrics.hpp"

namespace vigil::pg {

pool::pool(pool_settings options) : options_(std::move(options)), redacted_(redact(options_.conninfo)) {
    if (options_.size == 0) options_.size = 1;
}

pool::~pool() = default;

pool::lease::~lease() {
    if (c_ && pool_) pool_->give_back(std::move(c_));
}

void pool::lease::discard() noexcept {
    if (!c_) return;
    c_.reset();
    std::lock_guard lock{pool_->mutex_};
    --pool_->open_;
    pool_->freed_.notify_one();
}

void pool::give_back(std::unique_ptr<connection> c) noexcept {
    bool const keep = c->usable();
    if (!keep) c.reset();  // closed outside the lock
    std::lock_guard lock{mutex_};
    if (keep)
        idle_.push_back(std::move(c));
    else
        --open_;
    freed_.notify_one();
}

pool::lease pool::acquire(clock::time_point deadline) {
    std::unique_lock lock{mutex_};
    for (;;) {
        while (!idle_.empty()) {
            auto c = std::move(idle_.back());  // the most recently used: warm, and its checks cheap
            idle_.pop_back();
            lock.unlock();
            if (c->usable()) return lease{*this, std::move(c)};
            c.reset();  // the server closed it (a restart, an idle timeout): replace it
            lock.lock();
            --open_;
        }
        if (open_ < options_.size) {
            ++open_;
            lock.unlock();
            try {
                auto fresh = std::make_unique<connection>(options_.conninfo, options_.session, deadline);
                metrics::global().store_connections_opened.inc();
                return lease{*this, std::move(fresh)};
            } catch (...) {
                lock.lock();
                --open_;
                freed_.notify_one();
                throw;
            }
        }
        if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= options_.size)
            throw store_error("postgres: no connection of the pool (" + std::to_string(options_.size) +
                              ") came free in time");
    }
}

std::size_t pool::open() const {
    std::lock_guard lock{mutex_};
    return open_;
}

}  // namespace vigil::pg
