#include "alerts/delivery_sequencer.hpp"

#include <algorithm>

namespace vigil {

void delivery_sequencer::emit(sequenced_message message, bool replayed) {
    position_ = message.seq;
    ready_.push_back({std::move(message), replayed});
}

void delivery_sequencer::hold(sequenced_message message) {
    auto const at = std::lower_bound(held_.begin(), held_.end(), message.seq,
                                     [](sequenced_message const& m, std::uint64_t seq) { return m.seq < seq; });
    if (at != held_.end() && at->seq == message.seq) return;  // the bus brought it twice
    held_bytes_ += message.text ? message.text->size() : 0;
    held_.insert(at, std::move(message));
    if (held_.size() > limits_.max_held_messages || held_bytes_ > limits_.max_held_bytes) overflow_ = true;
}

void delivery_sequencer::on_live(sequenced_message message) {
    // Before the first page, even a seq at or below the client's `since` may
    // be new: numbering may have started again.
    if (!first_page_ && message.seq <= position_) return;
    if (read_ == read_state::none && held_.empty() && message.seq == position_ + 1)
        return emit(std::move(message), false);
    hold(std::move(message));
    if (read_ == read_state::none) read_ = read_state::gap_wanted;
}

void delivery_sequencer::on_page(replay_delivery page) {
    if (first_page_) {
        position_ = page.after;
        first_page_ = false;
    }
    for (auto& m : page.alerts)
        if (m.seq > position_) emit(std::move(m), true);
    bool const gap_read = reading_gap_;
    reading_gap_ = false;
    if (page.more) {
        read_ = read_state::more_wanted;
        more_unacked_only_ = page.unacked_only;
    } else {
        position_ = std::max(position_, page.head);
        read_ = read_state::none;
    }
    release_held(gap_read);
}

// Drops held alerts the position has passed, sends those that follow it, and
// asks for the gap when one remains. A gap read that comes back without
// closing its gap would mean the store lacks committed alerts; rather than
// read again forever, the held alerts then go out as they are.
void delivery_sequencer::release_held(bool after_gap_read) {
    auto const passed = std::find_if(held_.begin(), held_.end(), [&](auto const& m) { return m.seq > position_; });
    for (auto it = held_.begin(); it != passed; ++it) held_bytes_ -= it->text ? it->text->size() : 0;
    held_.erase(held_.begin(), passed);
    if (read_ != read_state::none || held_.empty()) return;
    if (after_gap_read && held_.front().seq > position_ + 1) {
        ++gaps_skipped_;
        position_ = held_.front().seq - 1;
    }
    std::size_t n = 0;
    for (; n < held_.size() && held_[n].seq == position_ + 1; ++n) {
        held_bytes_ -= held_[n].text ? held_[n].text->size() : 0;
        emit(std::move(held_[n]), false);
    }
    held_.erase(held_.begin(), held_.begin() + std::ptrdiff_t(n));
    if (!held_.empty()) read_ = read_state::gap_wanted;
    if (held_.empty()) std::vector<sequenced_message>().swap(held_);  // an idle connection keeps nothing
}

delivery_sequencer::step delivery_sequencer::next(bool room_for_replay) {
    if (overflow_) return {step_kind::overflow};
    if (!ready_.empty()) {
        if (ready_.front().replayed && !room_for_replay) return {};
        step s{step_kind::send, std::move(ready_.front().message), ready_.front().replayed};
        ready_.pop_front();
        return s;
    }
    if (read_ == read_state::more_wanted || read_ == read_state::gap_wanted) {
        step s{step_kind::fetch};
        s.after = position_;
        s.unacked_only = read_ == read_state::more_wanted && more_unacked_only_;
        reading_gap_ = read_ == read_state::gap_wanted;
        read_ = read_state::in_flight;
        return s;
    }
    return {};
}

}  // namespace vigil
