#pragma once
// Decides, for one connection, which alert messages go out and in what order:
// each seq once, in increasing order, with no gap the store could fill.
//
// Alerts reach a connection two ways: pages read from the store (the replay
// on connect, and reads this component asks for) and live alerts from the bus,
// which may come in any order, twice, or not at all (a node that publishes on
// the bus may lose the race with another node's publish of a later seq, or a
// bus message may be lost). The rules:
// - Until the first page, everything live is held: the page says where the
//   client's position really starts (its `since`, or 0 when that was from
//   another epoch or beyond the user's last seq).
// - A live alert at the next seq goes out at once; one at or below the
//   position is a duplicate and is dropped; one beyond the next seq is held,
//   and the gap is read from the store instead of being skipped or reordered.
// - A page's alerts go out in order; a page that was not full moves the
//   position to the store's head (what it left out, it left out on purpose);
//   a full one asks for the next once its alerts are taken.
// - One read at a time. Held alerts are bounded; past the bound the
//   connection is a slow consumer.
//
// Pure: no sockets, threads or clocks. The connection feeds it events and
// carries out its steps (delivery_sequencer::next), like a state machine.
#include "common/fifo.hpp"
#include "hub/subscriber.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vigil {

class delivery_sequencer {
public:
    struct limits {
        std::size_t max_held_messages = 1024;
        std::size_t max_held_bytes = 4 * 1024 * 1024;
    };

    enum class step_kind : std::uint8_t {
        idle,      // nothing to do until the next event (or until the outbox has room)
        send,      // queue `message` to the client
        fetch,     // read the user's alerts after `after` from the store; answer with on_page
        overflow,  // too much held: close the connection as a slow consumer
    };
    struct step {
        step_kind kind = step_kind::idle;
        sequenced_message message;  // send
        bool replayed = false;      // send: from a page, paced by the outbox; else live
        std::uint64_t after = 0;    // fetch
        bool unacked_only = false;  // fetch
    };

    // Starts waiting for the first page, which the connection's opening has
    // already asked for.
    explicit delivery_sequencer(limits l) : limits_(l) {}

    // A page read from the store (replay_page::head and the read's own terms).
    void on_page(replay_delivery page);
    // A live alert (seq > 0).
    void on_live(sequenced_message message);

    // What to do next. `room_for_replay`: whether the outbox takes replayed
    // alerts now (live ones always go: the outbox's own cap applies to them).
    step next(bool room_for_replay);

    // The highest seq handed out (or known not to exist) so far.
    std::uint64_t position() const noexcept { return position_; }
    // No read pending or wanted, nothing held or waiting: live alerts go straight out.
    bool caught_up() const noexcept { return read_ == read_state::none && held_.empty() && ready_.empty(); }
    std::size_t held() const noexcept { return held_.size(); }
    // Gaps the store could not fill (it always should: counted for monitoring).
    std::uint64_t gaps_skipped() const noexcept { return gaps_skipped_; }

private:
    enum class read_state : std::uint8_t {
        none,
        in_flight,    // a read was asked for, its page not yet here
        more_wanted,  // the last page was full: read on once its alerts are out
        gap_wanted,   // a live alert came past the next seq: read the gap
    };
    struct ready_entry {
        sequenced_message message;
        bool replayed = false;
    };

    void hold(sequenced_message message);
    void release_held(bool after_gap_read);
    void emit(sequenced_message message, bool replayed);

    limits limits_;
    std::uint64_t position_ = 0;
    read_state read_ = read_state::in_flight;
    bool first_page_ = true;          // nothing known yet of where the client starts
    bool reading_gap_ = false;        // the read in flight fills a gap
    bool more_unacked_only_ = false;  // how the next page of a replay is read
    bool overflow_ = false;
    fifo<ready_entry> ready_;              // in seq order, waiting for the outbox
    std::vector<sequenced_message> held_;  // live, beyond the next seq; sorted by seq, unique
    std::size_t held_bytes_ = 0;
    std::uint64_t gaps_skipped_ = 0;
};

}  // namespace vigil
