#include "server/openai_response.hpp"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "server/api_error.hpp"

namespace pagoda::server {

using json = nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* finish_name(FinishReason r) { return r == FinishReason::FINISH_REASON_STOP ? "stop" : "length"; }

json error_json(const ApiError& e) {
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

}  // namespace

std::string api_error_body(const ApiError& e) { return dump(error_json(e)); }
std::string sse_error_event(const ApiError& e) { return "data: " + dump(error_json(e)) + "\n\n"; }

std::string models_body(const ApiContext& ctx) {
  json m = {{"id", ctx.served_name},
            {"object", "model"},
            {"created", unix_now()},
            {"owned_by", "pagoda"},
            {"max_model_len", ctx.max_model_len},
            {"vocab_size", ctx.model->model->config().vocab_size}};
  return dump(json{{"object", "list"}, {"data", json::array({m})}});
}

struct ResponseBuilder::State {
  struct Choice {
    std::string text;
    json logprobs;  // completions: the four parallel lists; chat: the content list
    int64_t text_offset = 0;
    int32_t generated = 0;
    int32_t cached_prompt = 0;
    bool finished = false;
    bool started = false;  // chat streaming: the role chunk went out
    FinishReason finish = FinishReason::FINISH_REASON_LENGTH;
    std::optional<StreamDecoder> decoder;  // set when this side decodes the tokens (no engine text)
  };
  ApiRequest req;
  const ApiContext& ctx;
  std::string id;
  int64_t created;
  std::vector<Choice> choices;
  int32_t finished = 0;
  std::string error;
  int error_status = 500;

  State(const ApiRequest& r, const ApiContext& c)
      : req(r), ctx(c), id(random_id(r.kind == ApiKind::API_KIND_CHAT ? "chatcmpl-" : "cmpl-")), created(unix_now()) {
    choices.resize(req.prompts.size() * static_cast<size_t>(req.n));
    if (!req.logprobs.detokenize && ctx.model && ctx.model->tokenizer)
      for (Choice& c : choices) c.decoder.emplace(*ctx.model->tokenizer);
    req.prompts.clear();  // only their sizes matter from here on
    for (size_t i = 0; i < r.prompts.size(); ++i) prompt_tokens += static_cast<int64_t>(r.prompts[i].size());
  }
  int64_t prompt_tokens = 0;
  bool chat() const { return req.kind == ApiKind::API_KIND_CHAT; }

  std::string token_text(int32_t t) const {
    if (req.tokens_as_ids || !ctx.model->tokenizer) return fmt::format("token_id:{}", t);
    return ctx.model->tokenizer->token_bytes(t);
  }
  json bytes_of(const std::string& s) const {
    json b = json::array();
    for (unsigned char c : s) b.push_back(static_cast<int>(c));
    return b;
  }

  // The logprobs of one event in this API's shape (appended to `into`, which starts as null).
  void logprobs_append(const EngineEvent& ev, json& into, int64_t& offset) const {
    if (!req.logprobs.logprobs) return;
    if (chat()) {
      if (into.is_null()) into = json::array();
      for (const SampledLogprobs& lp : ev.logprobs) {
        const std::string t = token_text(lp.chosen.token);
        json top = json::array();
        for (const TokenLogprob& a : lp.top) {
          const std::string at = token_text(a.token);
          top.push_back({{"token", at}, {"logprob", a.logprob}, {"bytes", bytes_of(at)}});
        }
        into.push_back({{"token", t}, {"logprob", lp.chosen.logprob}, {"bytes", bytes_of(t)}, {"top_logprobs", top}});
      }
    } else {
      if (into.is_null())
        into = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()}, {"text_offset", json::array()}};
      for (const SampledLogprobs& lp : ev.logprobs) {
        const std::string t = token_text(lp.chosen.token);
        json top = json::object();
        for (const TokenLogprob& a : lp.top) top[token_text(a.token)] = a.logprob;
        into["tokens"].push_back(t);
        into["token_logprobs"].push_back(lp.chosen.logprob);
        into["top_logprobs"].push_back(top);
        into["text_offset"].push_back(offset);
        offset += static_cast<int64_t>(t.size());
      }
    }
  }

  json usage() const {
    int64_t completion = 0, cached = 0;
    for (const Choice& c : choices) completion += c.generated;
    for (size_t i = 0; i < choices.size(); i += static_cast<size_t>(req.n)) cached += choices[i].cached_prompt;
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion},
            {"total_tokens", prompt_tokens + completion},
            {"prompt_tokens_details", {{"cached_tokens", cached}}}};
  }

  json envelope(const char* object) const {
    return {{"id", id}, {"object", object}, {"created", created}, {"model", ctx.served_name}};
  }

  // The event's new text: the engine's, or decoded here exactly as the engine's TextStream would
  // without stop strings (StreamDecoder per token, flushed when the choice finishes).
  std::string text_of(Choice& c, const EngineEvent& ev) const {
    if (!c.decoder) return ev.text;
    std::string out;
    for (int32_t t : ev.tokens) out += c.decoder->push(t);
    if (ev.finished) out += c.decoder->flush();
    return out;
  }

  // Records an item; returns false for an error item.
  bool record(const ChannelItem& it) {
    if (it.failed()) {
      if (error.empty()) {
        error = it.error;
        error_status = it.error_status;
      }
      return false;
    }
    if (it.index < 0 || static_cast<size_t>(it.index) >= choices.size()) return false;
    Choice& c = choices[static_cast<size_t>(it.index)];
    c.generated += static_cast<int32_t>(it.event.tokens.size());
    c.cached_prompt = std::max(c.cached_prompt, it.event.cached_prompt_tokens);
    if (it.event.finished && !c.finished) {
      c.finished = true;
      c.finish = it.event.finish;
      ++finished;
    }
    return true;
  }
};

ResponseBuilder::ResponseBuilder(const ApiRequest& req, const ApiContext& ctx) : s_(std::make_unique<State>(req, ctx)) {}
ResponseBuilder::~ResponseBuilder() = default;

bool ResponseBuilder::done() const { return !s_->error.empty() || s_->finished == static_cast<int32_t>(s_->choices.size()); }
const std::string& ResponseBuilder::error() const { return s_->error; }
int ResponseBuilder::error_status() const { return s_->error_status; }

void ResponseBuilder::add(const std::vector<ChannelItem>& items) {
  for (const ChannelItem& it : items) {
    if (!s_->record(it)) continue;
    State::Choice& c = s_->choices[static_cast<size_t>(it.index)];
    c.text += s_->text_of(c, it.event);
    s_->logprobs_append(it.event, c.logprobs, c.text_offset);
  }
}

std::string ResponseBuilder::body() const {
  const State& s = *s_;
  json choices = json::array();
  for (size_t i = 0; i < s.choices.size(); ++i) {
    const State::Choice& c = s.choices[i];
    json lp = c.logprobs;
    if (s.req.logprobs.logprobs && lp.is_null()) lp = s.chat() ? json::array() : json(nullptr);
    if (s.chat()) {
      json chat_lp = s.req.logprobs.logprobs ? json{{"content", lp}, {"refusal", nullptr}} : json(nullptr);
      choices.push_back({{"index", i},
                         {"message", {{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr}}},
                         {"logprobs", chat_lp},
                         {"finish_reason", finish_name(c.finish)}});
    } else {
      choices.push_back({{"index", i}, {"text", c.text}, {"logprobs", lp}, {"finish_reason", finish_name(c.finish)}});
    }
  }
  json out = s.envelope(s.chat() ? "chat.completion" : "text_completion");
  out["choices"] = choices;
  out["usage"] = s.usage();
  return dump(out);
}

std::string ResponseBuilder::sse(const std::vector<ChannelItem>& items) {
  State& s = *s_;
  std::string out;
  for (const ChannelItem& it : items) {
    if (!s.record(it)) continue;
    State::Choice& c = s.choices[static_cast<size_t>(it.index)];
    const EngineEvent& ev = it.event;
    const std::string text = s.text_of(c, ev);
    json lp;
    s.logprobs_append(ev, lp, c.text_offset);
    json choice = {{"index", it.index}};
    if (s.chat()) {
      json delta = json::object();
      if (!c.started) delta["role"] = "assistant";
      c.started = true;
      if (!text.empty() || !ev.finished) delta["content"] = text;
      choice["delta"] = delta;
      choice["logprobs"] = s.req.logprobs.logprobs ? json{{"content", lp.is_null() ? json::array() : lp}, {"refusal", nullptr}} : json(nullptr);
    } else {
      choice["text"] = text;
      choice["logprobs"] = lp;
    }
    choice["finish_reason"] = ev.finished ? json(finish_name(ev.finish)) : json(nullptr);
    json chunk = s.envelope(s.chat() ? "chat.completion.chunk" : "text_completion");
    chunk["choices"] = json::array({choice});
    if (s.req.include_usage) chunk["usage"] = nullptr;
    out += "data: " + dump(chunk) + "\n\n";
  }
  return out;
}

std::string ResponseBuilder::sse_end() const {
  const State& s = *s_;
  std::string out;
  if (!s.error.empty())
    out += sse_error_event(s.error_status == 400 ? ApiError(400, s.error) : ApiError(500, s.error, "server_error"));
  if (s.req.include_usage && s.error.empty()) {
    json chunk = s.envelope(s.chat() ? "chat.completion.chunk" : "text_completion");
    chunk["choices"] = json::array();
    chunk["usage"] = s.usage();
    out += "data: " + dump(chunk) + "\n\n";
  }
  out += "data: [DONE]\n\n";
  return out;
}

}  // namespace pagoda::server
