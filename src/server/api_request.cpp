#include "server/api_request.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/api_error.hpp"

namespace pagoda::server {

using json = nlohmann::json;

namespace {

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopBytes = 512;

// nlohmann's parser is fine with depth but its values are not: reject deep nesting before parsing.
void check_json_depth(std::string_view s) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) throw ApiError(400, fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t get_int(const json& v, const char* name, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();  // nlohmann stores every non-negative integer as unsigned
    if (u > static_cast<uint64_t>(hi) || (lo > 0 && u < static_cast<uint64_t>(lo)))
      bad_param(name, "'{}' must be between {} and {}, got {}", name, lo, hi, u);
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer()) bad_param(name, "'{}' must be an integer", name);
  const int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) bad_param(name, "'{}' must be between {} and {}, got {}", name, lo, hi, i);
  return i;
}

double get_number(const json& v, const char* name, double lo, double hi) {
  if (!v.is_number()) bad_param(name, "'{}' must be a number", name);
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) bad_param(name, "'{}' must be between {} and {}, got {}", name, lo, hi, d);
  return d;
}

bool get_bool(const json& v, const char* name) {
  if (!v.is_boolean()) bad_param(name, "'{}' must be a boolean", name);
  return v.get<bool>();
}

std::string get_string(const json& v, const char* name) {
  if (!v.is_string()) bad_param(name, "'{}' must be a string", name);
  return v.get<std::string>();
}

std::vector<int32_t> token_list(const json& v, const ApiContext& ctx) {
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  const int64_t V = ctx.model->model->config().vocab_size;
  for (const json& t : v) {
    if (!t.is_number_integer()) bad_param("prompt", "token-id prompts must be lists of integers");
    const int64_t id = t.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(t.get<uint64_t>(), INT64_MAX)) : t.get<int64_t>();
    if (id < 0 || id >= V) bad_param("prompt", "token id {} is outside the vocabulary [0, {})", id, V);
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

const Tokenizer& need_tokenizer(const ApiContext& ctx, const char* param) {
  if (!ctx.model->tokenizer)
    bad_param(param, "model '{}' has no tokenizer: send the prompt as a list of token ids", ctx.served_name);
  return *ctx.model->tokenizer;
}

std::vector<int32_t> text_tokens(const std::string& text, const ApiContext& ctx) {
  const Tokenizer& tok = need_tokenizer(ctx, "prompt");
  return tok.encode(text, true, true);
}

std::vector<std::vector<int32_t>> completion_prompts(const json& p, const ApiContext& ctx) {
  std::vector<std::vector<int32_t>> out;
  if (p.is_string()) {
    out.push_back(text_tokens(p.get<std::string>(), ctx));
  } else if (p.is_array() && !p.empty() && p[0].is_number()) {
    out.push_back(token_list(p, ctx));
  } else if (p.is_array() && !p.empty()) {
    for (const json& e : p) {
      if (e.is_string()) out.push_back(text_tokens(e.get<std::string>(), ctx));
      else if (e.is_array()) out.push_back(token_list(e, ctx));
      else bad_param("prompt", "'prompt' must be a string, a list of strings, or token ids");
    }
  } else {
    bad_param("prompt", "'prompt' must be a non-empty string, list of strings, or list of token ids");
  }
  for (const auto& ids : out)
    if (ids.empty()) bad_param("prompt", "the prompt is empty");
  return out;
}

std::string message_content(const json& m) {
  const json* c = field(m, "content");
  if (!c) return "";
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array()) bad_param("messages", "message 'content' must be a string or a list of text parts");
  std::string text;
  for (const json& part : *c) {
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part["text"].is_string())
      bad_param("messages", "only text content parts ({{\"type\": \"text\", \"text\": ...}}) are supported");
    text += part["text"].get<std::string>();
  }
  return text;
}

std::vector<int32_t> chat_prompt(const json& body, const ApiContext& ctx) {
  const json* msgs = field(body, "messages");
  if (!msgs || !msgs->is_array() || msgs->empty()) bad_param("messages", "'messages' must be a non-empty list");
  const Tokenizer& tok = need_tokenizer(ctx, "messages");
  std::vector<ChatMessage> messages;
  for (const json& m : *msgs) {
    if (!m.is_object()) bad_param("messages", "each message must be an object");
    const json* role = field(m, "role");
    if (!role || !role->is_string()) bad_param("messages", "each message needs a string 'role'");
    messages.push_back({role->get<std::string>(), message_content(m)});
  }
  std::string text;
  try {
    text = ctx.model->render_chat(messages, true);
  } catch (const Error& e) {
    bad_param("messages", "the chat template failed: {}", e.what());
  }
  // BOS only when the template did not already write it (as the CLI does).
  bool add_bos = true;
  if (tok.bos_id() >= 0) {
    const std::string bos = tok.token_bytes(tok.bos_id());
    if (!bos.empty() && text.rfind(bos, 0) == 0) add_bos = false;
  }
  return tok.encode(text, add_bos, true);
}

std::vector<std::string> stop_list(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.size() > kMaxStops) bad_param("stop", "at most {} stop strings", kMaxStops);
    for (const json& s : v) out.push_back(get_string(s, "stop"));
  } else {
    bad_param("stop", "'stop' must be a string or a list of strings");
  }
  for (const auto& s : out) {
    if (s.empty()) bad_param("stop", "stop strings must not be empty");
    if (s.size() > kMaxStopBytes) bad_param("stop", "stop strings are limited to {} bytes", kMaxStopBytes);
  }
  return out;
}

}  // namespace

ApiRequest api_request_parse(ApiKind kind, std::string_view text, const ApiContext& ctx) {
  check_json_depth(text);
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");

  ApiRequest r;
  r.kind = kind;
  if (const json* m = field(body, "model")) {
    const std::string name = get_string(*m, "model");
    if (name != ctx.served_name)
      throw ApiError(404, fmt::format("the model '{}' does not exist (this server serves '{}')", name, ctx.served_name),
                     "invalid_request_error", "model", "model_not_found");
  }
  if (const json* e = field(body, "echo"); e && get_bool(*e, "echo")) bad_param("echo", "'echo' is not supported");
  if (const json* b = field(body, "best_of"); b && get_int(*b, "best_of", 1, 1) != 1) bad_param("best_of", "'best_of' must be 1");
  if (const json* s = field(body, "suffix"); s && !(s->is_string() && s->get<std::string>().empty()))
    bad_param("suffix", "'suffix' is not supported");
  if (const json* t = field(body, "tools"); t && !(t->is_array() && t->empty())) bad_param("tools", "tools are not supported");

  // OpenAI's defaults: plain softmax sampling at temperature 1, no truncation, no penalties.
  SamplingParams& s = r.gen.sampling;
  s.temperature = 1.0f;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.min_p = 0.0f;
  if (const json* v = field(body, "temperature")) s.temperature = static_cast<float>(get_number(*v, "temperature", 0.0, 2.0));
  if (const json* v = field(body, "top_p")) {
    s.top_p = static_cast<float>(get_number(*v, "top_p", 0.0, 1.0));
    if (s.top_p <= 0.0f) bad_param("top_p", "'top_p' must be greater than 0");
  }
  if (const json* v = field(body, "top_k")) {
    const int64_t k = get_int(*v, "top_k", -1, ctx.model->model->config().vocab_size);
    s.top_k = k <= 0 ? 0 : static_cast<int32_t>(k);
  }
  if (const json* v = field(body, "min_p")) s.min_p = static_cast<float>(get_number(*v, "min_p", 0.0, 1.0));
  if (const json* v = field(body, "presence_penalty")) s.presence_penalty = static_cast<float>(get_number(*v, "presence_penalty", -2.0, 2.0));
  if (const json* v = field(body, "frequency_penalty"))
    s.frequency_penalty = static_cast<float>(get_number(*v, "frequency_penalty", -2.0, 2.0));
  if (const json* v = field(body, "repetition_penalty")) {
    s.repetition_penalty = static_cast<float>(get_number(*v, "repetition_penalty", 0.0, 10.0));
    if (s.repetition_penalty <= 0.0f) bad_param("repetition_penalty", "'repetition_penalty' must be greater than 0");
  }
  if (const json* v = field(body, "seed")) {
    s.seed = static_cast<uint64_t>(get_int(*v, "seed", INT64_MIN, INT64_MAX));
    s.has_seed = true;
  }
  if (const json* v = field(body, "stop")) r.gen.stop = stop_list(*v);
  if (const json* v = field(body, "ignore_eos")) r.gen.ignore_eos = get_bool(*v, "ignore_eos");
  if (const json* v = field(body, "n")) r.n = static_cast<int32_t>(get_int(*v, "n", 1, ctx.max_n));
  if (const json* v = field(body, "stream")) r.stream = get_bool(*v, "stream");
  if (const json* v = field(body, "stream_options")) {
    if (!v->is_object()) bad_param("stream_options", "'stream_options' must be an object");
    if (!r.stream) bad_param("stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (const json* u = field(*v, "include_usage")) r.include_usage = get_bool(*u, "stream_options.include_usage");
  }
  if (const json* v = field(body, "return_tokens_as_token_ids")) r.tokens_as_ids = get_bool(*v, "return_tokens_as_token_ids");
  if (!ctx.model->tokenizer) r.tokens_as_ids = true;

  const int32_t max_top = EngineRequestOptions::kMaxTopLogprobs;
  if (kind == ApiKind::API_KIND_COMPLETION) {
    // Completions: logprobs is an integer, the number of alternatives per token.
    if (const json* v = field(body, "logprobs")) {
      r.logprobs.logprobs = true;
      r.logprobs.top_logprobs = static_cast<int32_t>(get_int(*v, "logprobs", 0, max_top));
    }
    const json* p = field(body, "prompt");
    if (!p) bad_param("prompt", "'prompt' is required");
    r.prompts = completion_prompts(*p, ctx);
  } else {
    if (const json* v = field(body, "logprobs")) r.logprobs.logprobs = get_bool(*v, "logprobs");
    if (const json* v = field(body, "top_logprobs")) {
      r.logprobs.top_logprobs = static_cast<int32_t>(get_int(*v, "top_logprobs", 0, max_top));
      if (!r.logprobs.logprobs && r.logprobs.top_logprobs > 0) bad_param("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    }
    r.prompts.push_back(chat_prompt(body, ctx));
  }
  if (!r.gen.stop.empty() && !ctx.model->tokenizer) bad_param("stop", "stop strings need a model with a tokenizer");
  // Without stop strings nothing in the engine needs the text: the response side decodes the
  // tokens on the HTTP threads (ResponseBuilder), keeping that work off the engine thread.
  r.logprobs.detokenize = !r.gen.stop.empty();
  if (static_cast<int64_t>(r.prompts.size()) * r.n > ctx.max_n)
    bad_param("n", "prompts x n must be at most {}", ctx.max_n);

  size_t longest = 0;
  for (const auto& p : r.prompts) longest = std::max(longest, p.size());
  const int64_t room = ctx.max_model_len - static_cast<int64_t>(longest);
  if (room < 1)
    bad_param("prompt", "the prompt has {} tokens; this model's context is {} tokens", longest, ctx.max_model_len);
  const json* mt = field(body, "max_completion_tokens");
  if (!mt) mt = field(body, "max_tokens");
  if (mt) {
    const char* name = field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    r.gen.max_tokens = get_int(*mt, name, 1, INT32_MAX);
    if (r.gen.max_tokens > room)
      bad_param(name, "the prompt ({} tokens) plus {} = {} tokens exceeds this model's context of {} tokens", longest,
                name, longest + static_cast<size_t>(r.gen.max_tokens), ctx.max_model_len);
  } else {
    // OpenAI's legacy completions default to 16 tokens; chat runs to the end of the context.
    r.gen.max_tokens = kind == ApiKind::API_KIND_COMPLETION ? std::min<int64_t>(16, room) : room;
  }
  return r;
}

}  // namespace pagoda::server
