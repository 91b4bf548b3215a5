// A test-only primary kernel for the programmatic-dependent-launch (PDL) tests: it lets the launch
// that follows it start at once, then writes rows late, so a dependent that reads those rows before
// its griddepcontrol.wait sees the old contents (the tests poison them) instead of racing a fast writer.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace pagoda::test {

// One set of 16-bit rows to write: source row i ([rows, row_elems], contiguous) goes to destination
// row dst_rows[i] (device array; null: row i) of dst.
struct LateRows {
  void* dst = nullptr;
  const void* src = nullptr;
  const int64_t* dst_rows = nullptr;
  int64_t rows = 0, row_elems = 0;
};

// Launches (plain) one CTA that triggers griddepcontrol.launch_dependents at entry, waits delay_us on
// the device clock, then writes up to 3 row sets. Returns the launch's error.
cudaError_t late_write_rows(const LateRows* sets, int n_sets, int delay_us, cudaStream_t stream);

}  // namespace pagoda::test
