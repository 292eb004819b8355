#pragma once
// A first-in first-out queue on a vector that allocates nothing until used
// and gives its memory back when drained. std::deque allocates ~600 bytes on
// construction, which idle connections (three queues each) would pay for.
#include <cstddef>
#include <utility>
#include <vector>

namespace vigil {

template <class T>
class fifo {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }
    T& front() { return items_[head_]; }
    auto begin() { return items_.begin() + std::ptrdiff_t(head_); }
    auto end() { return items_.end(); }

    void push_back(T v) { items_.push_back(std::move(v)); }

    void pop_front() {
        items_[head_] = T{};
        if (++head_ == items_.size()) {
            clear();
        } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + std::ptrdiff_t(head_));  // amortised O(1)
            head_ = 0;
        }
    }

    // Keeps the first `n` items, drops the rest.
    void keep_first(std::size_t n) {
        if (n >= size()) return;
        items_.erase(items_.begin() + std::ptrdiff_t(head_ + n), items_.end());
        if (empty()) clear();
    }

    void clear() {
        items_.clear();
        if (items_.capacity() > 16) items_.shrink_to_fit();
        head_ = 0;
    }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace vigil
