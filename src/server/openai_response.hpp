// OpenAI response bodies built from engine events: whole responses (text_completion,
// chat.completion) and streamed chunks as server-sent events, with usage, finish_reason and
// logprobs in OpenAI's two shapes (completions: tokens/token_logprobs/top_logprobs/text_offset;
// chat: content[{token, logprob, bytes, top_logprobs}]). It formats only; it never blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/api_error.hpp"
#include "server/api_request.hpp"
#include "server/engine_loop.hpp"

namespace pagoda::server {

class ResponseBuilder {
 public:
  ResponseBuilder(const ApiRequest& req, const ApiContext& ctx);
  ~ResponseBuilder();

  // Streaming: one SSE event ("data: {json}\n\n") per item; sse_end() adds the usage chunk when
  // asked for, and "data: [DONE]\n\n".
  std::string sse(const std::vector<ChannelItem>& items);
  std::string sse_end() const;
  // Not streaming: collect, then body() once done().
  void add(const std::vector<ChannelItem>& items);
  std::string body() const;

  bool done() const;
  const std::string& error() const;  // non-empty when the request failed on the engine side
  int error_status() const;          // its HTTP status (400 refused, 500 failed)

 private:
  struct State;
  std::unique_ptr<State> s_;
};

std::string models_body(const ApiContext& ctx);
std::string sse_error_event(const ApiError& e);

}  // namespace pagoda::server
