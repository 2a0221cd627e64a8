// float <-> bfloat16 as the AVX512-BF16 instructions do it: round to nearest even, NaN stays NaN (quiet),
// denormal inputs become signed zero (vcvtneps2bf16 and vdpbf16ps treat denormals as zero). Scalar, portable.
#pragma once
#include <cstdint>
#include <cstring>

namespace mt {

static inline uint16_t bf16_from_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);           // zero or denormal -> ±0
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);   // NaN -> quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float bf16_to_float(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace mt
