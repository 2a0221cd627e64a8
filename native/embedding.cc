// Embedding lookup; backward scatter-adds rows. Parallel over column blocks of the table (every thread walks
// all ids in order), so the sum for each table row is formed in the same order on any thread count.
#include "common.h"
#include <algorithm>

namespace mt {

MT_SIMD_CLONES static void add_cols(float* __restrict d, const float* __restrict s, int64_t n) {
  for (int64_t j = 0; j < n; j++) d[j] += s[j];
}

// ids: [n]; table: [vocab, dim]; out: [n, dim]
void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim) {
  parallel_for(n, std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1)), [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) std::memcpy(out + i * dim, table + (int64_t)ids[i] * dim, dim * sizeof(float));
  });
}

// dtable[ids[i], :] += dout[i, :]
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim) {
  const int64_t CB = 32;
  const int64_t nb = (dim + CB - 1) / CB;
  parallel_for(nb, 1, [=](int64_t b0, int64_t b1) {
    const int64_t c0 = b0 * CB, c1 = std::min(dim, b1 * CB);
    for (int64_t i = 0; i < n; i++) {
      add_cols(dtable + (int64_t)ids[i] * dim + c0, dout + i * dim + c0, c1 - c0);
    }
  });
}

}  // namespace mt
