#pragma once
// A route's work on the store (a read, or a small write of push state) runs
// on the store's reader threads, never on an I/O thread: an engine may wait
// for the disk or the network. A store that fails answers 503
// store_unavailable; its reason goes to the log, never to the caller (the
// engine's message may name its server).
#include "common/log.hpp"
#include "net/api_routes.hpp"
#include "net/http_types.hpp"
#include "net/server_context.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <exception>
#include <utility>

namespace vigil::net {

// Runs `work(head)`, which returns the answer, and answers with it. `head` is
// reply_head(req): the request without its body, which may be gone by then.
template <class Work>
void on_store_threads(server_context& ctx, http_request const& req, responder respond, Work work) {
    boost::asio::post(ctx.store_reads,
                      [head = reply_head(req), respond = std::move(respond), work = std::move(work)]() mutable {
                          http_response res;
                          try {
                              res = work(head);
                          } catch (std::exception const& e) {
                              log::debug("http.store_unavailable", {{"error", e.what()}});
                              res = refusal_response(store_unavailable(), head);
                          }
                          respond(std::move(res));
                      });
}

}  // namespace vigil::net
