// llama3 scaling follows Meta's reference: low frequencies (long wavelengths) are divided by
// `factor`, high frequencies kept, and the band between blended smoothly.
#include "model/rope_freqs.hpp"

#include <cmath>
#include <numbers>

#include "backend/cpu/ops.hpp"
#include "core/error.hpp"
#include "io/model_source.hpp"

namespace pagoda {

std::vector<float> rope_inv_freq(const ModelConfig& config) {
  const int64_t dim = config.rope_dim > 0 ? config.rope_dim : config.head_dim;
  PAGODA_CHECK(dim > 0 && dim % 2 == 0, "rope dimension {} must be positive and even", dim);
  std::vector<float> inv(static_cast<size_t>(dim / 2));
  const RopeScaling& s = config.rope_scaling;
  for (int64_t i = 0; i < dim / 2; ++i) {
    double f = std::pow(config.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    if (s.type == "linear") {
      f /= s.factor;
    } else if (s.type == "llama3") {
      const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
      const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                              (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    } else if (s.type != "default") {
      fail("unsupported rope scaling type '{}'", s.type);
    }
    inv[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return inv;
}

std::vector<float> rope_inv_freq_for(const ModelSource& source) {
  std::vector<float> inv = rope_inv_freq(source.config());
  const TensorDesc* factors = source.find("rope_freqs.weight");
  if (!factors) return inv;
  PAGODA_CHECK(factors->numel() == static_cast<int64_t>(inv.size()) && factors->dtype == DType::DTYPE_F32 &&
                   factors->data.size() == inv.size() * 4,
               "{}: rope_freqs.weight must be {} float32 values", source.path(), inv.size());
  std::vector<float> f(inv.size());
  cpu::dequantize_row(DType::DTYPE_F32, factors->data.data(), f.data(), static_cast<int64_t>(f.size()));
  for (size_t i = 0; i < inv.size(); ++i) {
    PAGODA_CHECK(f[i] > 0.0f && std::isfinite(f[i]), "{}: rope_freqs.weight has a non-positive factor", source.path());
    inv[i] /= f[i];
  }
  return inv;
}

}  // namespace pagoda
