// Picks the kernel table once per process: the best ISA this CPU supports, unless
// PAGODA_CPU_ISA=scalar|avx2|avx512 asks for a lower (or an unsupported, which is an error) one.
#include <cstdlib>
#include <string_view>

#include "backend/cpu/kernels.hpp"
#include "core/error.hpp"

namespace pagoda::cpu {

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::CPU_ISA_SCALAR: return "scalar";
    case CpuIsa::CPU_ISA_AVX2: return "avx2";
    case CpuIsa::CPU_ISA_AVX512: return "avx512";
  }
  return "?";
}

bool cpu_isa_available(CpuIsa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::CPU_ISA_SCALAR: return true;
    case CpuIsa::CPU_ISA_AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case CpuIsa::CPU_ISA_AVX512:
      // The AVX-512 table uses VNNI for int8 dots and BF16 conversions; without them it is not offered.
      return cpu_isa_available(CpuIsa::CPU_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx512bf16");
  }
  return false;
}

const CpuKernels& kernels_for(CpuIsa isa) {
  PAGODA_CHECK(cpu_isa_available(isa), "CPU kernels for {} are not supported on this CPU", cpu_isa_name(isa));
  switch (isa) {
    case CpuIsa::CPU_ISA_AVX512: return kernels_avx512();
    case CpuIsa::CPU_ISA_AVX2: return kernels_avx2();
    default: return kernels_scalar();
  }
}

namespace {
const CpuKernels& choose() {
  if (const char* env = std::getenv("PAGODA_CPU_ISA"); env && *env) {
    const std::string_view v(env);
    for (CpuIsa isa : {CpuIsa::CPU_ISA_SCALAR, CpuIsa::CPU_ISA_AVX2, CpuIsa::CPU_ISA_AVX512})
      if (v == cpu_isa_name(isa)) return kernels_for(isa);
    fail("PAGODA_CPU_ISA={} is not one of scalar, avx2, avx512", v);
  }
  for (CpuIsa isa : {CpuIsa::CPU_ISA_AVX512, CpuIsa::CPU_ISA_AVX2})
    if (cpu_isa_available(isa)) return kernels_for(isa);
  return kernels_scalar();
}
}  // namespace

const CpuKernels& kernels_active() {
  static const CpuKernels& k = choose();
  return k;
}

DType act_format(DType weight) {
  switch (weight) {
    case DType::DTYPE_Q8_0:
    case DType::DTYPE_Q4_0: return DType::DTYPE_Q8_0;
    case DType::DTYPE_Q4_1: return DType::DTYPE_Q8_1;
    default: return DType::DTYPE_F32;
  }
}

}  // namespace pagoda::cpu
