// Chat templates: the public face of the Jinja interpreter. Parses once (trim_blocks and
// lstrip_blocks on, as Hugging Face configures jinja2), then renders with the variables HF passes:
// messages, add_generation_prompt, bos_token, eos_token, tools=None, documents=None,
// raise_exception and strftime_now, plus any extra variables the caller supplies.
#include "tokenizer/chat_template.hpp"

#include "core/error.hpp"
#include "tokenizer/jinja_builtins.hpp"
#include "tokenizer/jinja_interpreter.hpp"
#include "tokenizer/jinja_parser.hpp"

namespace pagoda {

namespace {

// jinja2 rejects unknown filters when it compiles a template, even in branches never taken.
void check_filters(const jinja::Expr* e) {
  if (!e) return;
  if (e->kind == jinja::ExprKind::EXPR_KIND_FILTER && !jinja::builtin_filter_exists(e->name))
    fail("template:{}:{}: no filter named '{}'", e->line, e->col, e->name);
  for (const auto& a : e->args) check_filters(a.get());
  for (const auto& [k, v] : e->kwargs) check_filters(v.get());
}

void check_filters(const jinja::Body& body) {
  for (const jinja::StmtPtr& s : body) {
    check_filters(s->expr.get());
    check_filters(s->condition.get());
    for (const auto& f : s->filters) check_filters(f.get());
    for (const auto& p : s->params) check_filters(p.default_value.get());
    for (const auto& [cond, b] : s->branches) {
      check_filters(cond.get());
      check_filters(b);
    }
    check_filters(s->body);
    check_filters(s->else_body);
  }
}

}  // namespace

struct ChatTemplate::Impl {
  jinja::Program program;
};

ChatTemplate::ChatTemplate(std::string source) : impl_(std::make_unique<Impl>()) {
  impl_->program = jinja::jinja_parse(source, jinja::LexOptions{true, true});
  check_filters(impl_->program.body);
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options) const {
  PAGODA_CHECK(options.max_steps > 0 && options.max_output_bytes > 0, "chat template limits must be positive");
  jinja::RenderLimits limits;
  limits.max_steps = options.max_steps;
  limits.max_output_bytes = options.max_output_bytes;

  std::unordered_map<std::string, jinja::Value> globals;
  jinja::builtin_add_globals(globals, options.now_unix_seconds);
  jinja::List msgs;
  for (const ChatMessage& m : messages) {
    jinja::Dict d;
    d.set("role", jinja::Value::string(m.role));
    d.set("content", jinja::Value::string(m.content));
    msgs.push_back(jinja::Value::dict_of(std::move(d)));
  }
  globals["messages"] = jinja::Value::list_of(std::move(msgs));
  globals["add_generation_prompt"] = jinja::Value::boolean(options.add_generation_prompt);
  globals["bos_token"] = jinja::Value::string(options.bos_token);
  globals["eos_token"] = jinja::Value::string(options.eos_token);
  globals["tools"] = jinja::Value::none();
  globals["documents"] = jinja::Value::none();

  // Extra variables are literals: JSON's null/true/false are accepted alongside Jinja's.
  std::unordered_map<std::string, jinja::Value> literal_names{{"null", jinja::Value::none()}};
  for (const auto& [name, literal] : options.extra_variables) {
    jinja::ExprPtr e;
    try {
      e = jinja::jinja_parse_expression(literal);
    } catch (const Error& err) {
      fail("chat template variable '{}': {}", name, err.what());
    }
    const jinja::Program no_body;
    jinja::Interpreter ev(no_body, limits);
    try {
      globals[name] = ev.evaluate(*e, literal_names);
    } catch (const Error& err) {
      fail("chat template variable '{}': {}", name, err.what());
    }
  }

  jinja::Interpreter interp(impl_->program, limits);
  return interp.render(globals);
}

}  // namespace pagoda
