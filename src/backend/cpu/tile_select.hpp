// Turns a kernel with compile-time tile shape (Impl::run<NR, NT>) into one TileFn that serves any
// nr <= 4, nt <= 4: full tiles and edge tiles alike get fully unrolled register blocks.
#pragma once

#include "backend/cpu/kernels.hpp"

namespace pagoda::cpu {

template <class Impl, int NR, int NT>
void tile_fixed(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
                int64_t ldy) {
  Impl::template run<NR, NT>(k, static_cast<const char*>(w), ws, static_cast<const char*>(a), as, y, ldy);
}

template <class Impl>
void tile_any(int64_t k, const void* w, uint64_t ws, int nr, const void* a, uint64_t as, int nt, float* y,
              int64_t ldy) {
  static constexpr TileFn table[4][4] = {
      {tile_fixed<Impl, 1, 1>, tile_fixed<Impl, 1, 2>, tile_fixed<Impl, 1, 3>, tile_fixed<Impl, 1, 4>},
      {tile_fixed<Impl, 2, 1>, tile_fixed<Impl, 2, 2>, tile_fixed<Impl, 2, 3>, tile_fixed<Impl, 2, 4>},
      {tile_fixed<Impl, 3, 1>, tile_fixed<Impl, 3, 2>, tile_fixed<Impl, 3, 3>, tile_fixed<Impl, 3, 4>},
      {tile_fixed<Impl, 4, 1>, tile_fixed<Impl, 4, 2>, tile_fixed<Impl, 4, 3>, tile_fixed<Impl, 4, 4>},
  };
  table[nr - 1][nt - 1](k, w, ws, nr, a, as, nt, y, ldy);
}

}  // namespace pagoda::cpu
