// `pagoda inspect`: what a model file holds: metadata (long arrays abbreviated), the derived
// config, and every tensor with its type, shape and size.
#include <fmt/ranges.h>

#include <map>

#include "cli/cli_common.hpp"
#include "io/model_source.hpp"

namespace pagoda::cli {

namespace {

std::string value_text(const GgufValue& v, int depth = 0) {
  constexpr size_t kMaxItems = 8;
  constexpr size_t kMaxString = 120;
  return std::visit(
      [&](const auto& x) -> std::string {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::string>) {
          std::string s = x.size() > kMaxString ? x.substr(0, kMaxString) + "..." : x;
          return fmt::format("{:?}{}", s, x.size() > kMaxString ? fmt::format(" ({} bytes)", x.size()) : "");
        } else if constexpr (std::is_same_v<X, GgufArray>) {
          std::vector<std::string> items;
          for (size_t i = 0; i < x.items.size() && i < kMaxItems; ++i) items.push_back(value_text(x.items[i], depth + 1));
          return fmt::format("[{}{}] ({} x {})", fmt::join(items, ", "), x.items.size() > kMaxItems ? ", ..." : "",
                             x.items.size(), gguf_type_name(x.elem_type));
        } else {
          return fmt::format("{}", x);
        }
      },
      v.value);
}

struct InspectOptions {
  std::string model;
  bool tensors = true;
};

}  // namespace

Runner register_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand("inspect", "show a model's metadata, config and tensors");
  sub->add_option("-m,--model", o->model, "GGUF file or Hugging Face folder (default: the default model)");
  sub->add_flag("!--no-tensors", o->tensors, "omit the tensor list");
  return [o] {
    const std::string path = o->model.empty() ? default_model_ensure(true) : o->model;
    auto src = ModelSource::open(path);
    fmt::print("file: {}\nformat: {}\n", path, src->format() == ModelFormat::MODEL_FORMAT_GGUF ? "GGUF" : "Hugging Face safetensors");
    if (const GgufFile* g = src->gguf()) {
      fmt::print("gguf version: {}, alignment: {}\n\nmetadata ({} keys):\n", g->version(), g->alignment(), g->metadata().size());
      for (const auto& [k, v] : g->metadata()) fmt::print("  {} = {}\n", k, value_text(v));
    }
    const ModelConfig& c = src->config();
    fmt::print(
        "\nconfig: arch {} | layers {} | hidden {} | ffn {} | heads {} / kv {} | head dim {} | vocab {} | ctx {} | "
        "rope theta {} ({}, {} pairing) | eps {} | tied {} | qkv bias {}\n",
        c.architecture, c.num_layers, c.hidden_size, c.intermediate_size, c.num_heads, c.num_kv_heads, c.head_dim,
        c.vocab_size, c.max_position_embeddings, c.rope_theta, c.rope_scaling.type,
        c.rope_pairing == RopePairing::ROPE_PAIRING_INTERLEAVED ? "interleaved" : "half", c.rms_norm_eps,
        c.tie_word_embeddings, c.attention_bias);
    std::map<std::string, std::pair<int, uint64_t>> by_type;
    uint64_t params = 0;
    for (const auto& [name, t] : src->tensors()) {
      auto& e = by_type[std::string(dtype_info(t->dtype).name)];
      ++e.first;
      e.second += t->data.size();
      params += static_cast<uint64_t>(t->numel());
    }
    if (o->tensors) {
      fmt::print("\ntensors ({}):\n", src->tensors().size());
      for (const auto& [name, t] : src->tensors())
        fmt::print("  {:<40} {:<5} [{}] {:.2f} MiB\n", name, dtype_info(t->dtype).name, fmt::join(t->shape, ", "),
                   static_cast<double>(t->data.size()) / (1 << 20));
    }
    fmt::print("\ntotal: {} tensors, {:.1f} M parameters, {:.1f} MiB\n", src->tensors().size(), static_cast<double>(params) / 1e6,
               static_cast<double>(src->total_bytes()) / (1 << 20));
    for (const auto& [type, e] : by_type) fmt::print("  {:<5} {:4} tensors {:9.1f} MiB\n", type, e.first, static_cast<double>(e.second) / (1 << 20));
    return 0;
  };
}

}  // namespace pagoda::cli
