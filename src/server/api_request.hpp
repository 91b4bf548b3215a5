// OpenAI request bodies (/v1/completions, /v1/chat/completions) turned into one validated plain
// struct: prompts as token ids, generation and logprob options, streaming flags. Input is hostile:
// every field is type- and range-checked and every failure is an ApiError naming the field. It
// does not talk to the engine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/engine.hpp"
#include "runtime/loaded_model.hpp"

namespace pagoda::server {

enum class ApiKind : uint8_t { API_KIND_COMPLETION, API_KIND_CHAT };

// What the request parser needs to know about the served model.
struct ApiContext {
  const LoadedModel* model = nullptr;
  std::string served_name;
  int64_t max_model_len = 0;  // prompt + generated tokens must fit in this (the KV cache capacity)
  int32_t max_n = 64;         // upper bound on n (and on prompts x n)
};

struct ApiRequest {
  ApiKind kind = ApiKind::API_KIND_COMPLETION;
  std::vector<std::vector<int32_t>> prompts;  // completions may batch prompts; chat has one
  int32_t n = 1;                              // choices per prompt; choice index = prompt * n + j
  GenerationParams gen;
  EngineRequestOptions logprobs;
  bool stream = false;
  bool include_usage = false;
  bool tokens_as_ids = false;  // logprob tokens written "token_id:N" (always so without a tokenizer)
};

// Parses a body as JSON (400 on malformed JSON, nesting deeper than a fixed bound, or a body that
// is not an object) and then as the request of `kind`.
ApiRequest api_request_parse(ApiKind kind, std::string_view body, const ApiContext& ctx);

}  // namespace pagoda::server
