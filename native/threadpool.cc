// A small fork-join pool: the caller plus (threads-1) workers. Workers spin briefly after each job (jobs come in
// quick succession inside a training step) and then sleep on a condition variable, so an idle process uses no CPU.
// One job at a time: a caller that finds the pool busy (a second JS thread - a worker_threads Worker or a server
// request on another thread - or a parallel loop nested inside a running job) runs its whole range itself, on its
// own thread. That never deadlocks, and results are the same because every kernel's result is independent of how
// its range is chunked (fixed reduction blocks; GEMM tiles computed the same way wherever they fall).
#include "common.h"
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MT_PAUSE() _mm_pause()
#else
#define MT_PAUSE() std::this_thread::yield()
#endif

namespace mt {
namespace {

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  const std::function<void(int64_t, int64_t)>* job = nullptr;
  int64_t n = 0, chunk = 0;
  int nchunks = 0;
  bool stop = false;
  std::atomic<int> nthreads{1};
  std::atomic<bool> busy{false};  // a job is running (or the pool is being resized)

  bool try_acquire() { return !busy.exchange(true, std::memory_order_acquire); }
  void acquire() {
    while (!try_acquire()) std::this_thread::yield();
  }
  void release() { busy.store(false, std::memory_order_release); }

  void run_chunk(int c) {
    const int64_t b = c * chunk;
    const int64_t e = std::min(n, b + chunk);
    if (b < e) (*job)(b, e);
  }

  // `seen` starts at the generation current when the worker is created, so a new worker never runs a job
  // published before it existed.
  void worker(int id, uint64_t seen) {
    for (;;) {
      uint64_t g;
      int spins = 0;
      while ((g = generation.load(std::memory_order_acquire)) == seen) {
        if (++spins < 20000) { MT_PAUSE(); continue; }
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        if (stop) return;
      }
      if (stop) return;
      seen = g;
      if (id < nchunks) run_chunk(id);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void resize(int t) {
    shutdown();
    stop = false;
    nthreads = t < 1 ? 1 : t;
    const uint64_t g = generation.load(std::memory_order_acquire);
    for (int i = 1; i < nthreads; i++) workers.emplace_back([this, i, g] { worker(i, g); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
      generation.fetch_add(1, std::memory_order_acq_rel);
    }
    cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }

  ~Pool() { shutdown(); }
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_threads(int n) {
  Pool& p = pool();
  p.acquire();  // waits for a running job to finish
  if (!(n == p.nthreads && (int)p.workers.size() == n - 1)) p.resize(n);
  p.release();
}

int threads() { return pool().nthreads; }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  Pool& p = pool();
  if (grain < 1) grain = 1;
  const int64_t maxChunks = (n + grain - 1) / grain;
  if (maxChunks <= 1 || p.nthreads.load() <= 1 || !p.try_acquire()) {
    fn(0, n);
    return;
  }
  const int nch = (int)std::min<int64_t>(p.nthreads.load(), maxChunks);
  p.job = &fn;
  p.n = n;
  p.chunk = (n + nch - 1) / nch;
  p.nchunks = nch;
  p.pending.store((int)p.workers.size(), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  p.run_chunk(0);
  while (p.pending.load(std::memory_order_acquire) != 0) MT_PAUSE();
  p.release();
}

}  // namespace mt
