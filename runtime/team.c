/*
 * team.c — the runtime's own worker threads, for the work a training step
 * splits (GEMMs, convolutions, pooling, optimizer steps).
 *
 * Why not OpenMP: with passive waiting (threads.c) each parallel region
 * pays 40-80 µs to wake a sleeping vCPU (bench/omp_wake.c) — more than
 * most products of a small model take — and with active waiting libgomp's
 * idle threads spin for milliseconds and the opening thread waits for
 * every member of a static split, so one descheduled thread (a shared
 * machine) stalls the region for a time slice: the MLP ran at 44k
 * samples/s that way against 92k passive.
 *
 * So: a job is `chunks` independent calls fn(ctx, i).  The calling thread
 * posts it and claims chunks itself, and so does every worker that is
 * awake; the caller returns once each chunk is done.  Nobody waits for a
 * worker that has not started, so a sleeping or descheduled worker costs
 * nothing but its absence.  After a job a worker spins for up to SPIN_US
 * for the next one (pause, then sched_yield so that another process's
 * thread waiting for the core can run) — a step's products follow each
 * other within tens to hundreds of µs — and then sleeps on a futex;
 * posting wakes it when it sleeps.
 *
 * Which thread runs a chunk never changes what it computes: callers split
 * work by a rule of its shape alone, so any thread count gives the bits of
 * one thread (tests/unit/test_team.c, tests/e2e/pipeline.sh threads).
 *
 * The job is one 64-bit word, generation << 32 | the unclaimed chunks
 * [front, back): a claim is a compare-and-swap of it (the caller takes
 * the front chunk, a worker the back one), so a worker that read an older
 * job's fields cannot take a chunk of a newer one: before the fields
 * change, front and back are set equal, which no claim can pass.
 * A job started while another runs (a chunk that splits again, a second
 * thread) runs its chunks on its own thread, in order.
 *
 * NNRT_SPIN_US=N sets the spin (0: sleep at once).  Measured here (2
 * vCPUs, one epoch, best of 5 interleaved runs, 1 / 2 threads, samples/s):
 * GAN 8.5k / 11.3k, LeNet-5 18.9k / 26.9k, MLP 85k / 108k with a 2 ms
 * spin; with 200 µs the GAN's 2 threads were slower than 1 (7.9k): its
 * Adam steps leave gaps longer than that.  With another process busy on
 * one core: GAN 8.2k / 7.5k, MLP 84k / 78k (the stall rule below; without
 * it 7.6k / 5.0k and 74k / 53k).
 */
#include "internal.h"
#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_TEAM 256
#define SPIN_US 2000
#define YIELD_AFTER 4096 /* pauses (~100-200 µs), then sched_yield between checks */
/* A wait for other threads' chunks longer than this (and than the caller's
 * own share took) means a worker was descheduled: another process wants
 * its core, or the VM paused a vCPU (seen here 3-5 times in a 1.5 s epoch
 * on an idle machine, 1.4-4 ms each).  The caller then runs every job
 * alone for a spell, and the workers, seeing no job, go to sleep: 10 ms,
 * doubled (to 0.5 s) while stalls keep coming right after a spell.
 * Results do not change (the split is by shape), only who computes it. */
#define STALL_NS 1000000
#define SOLO_MIN_NS 10000000
#define SOLO_MAX_NS 500000000
/* The low half of the job word: the chunks not yet claimed, [front, back),
 * 16 bits each (a job of more chunks runs them in groups: wide_job). */
#define CHUNK_MASK 0xffffu
#define MAX_CHUNKS 0xffff

typedef struct {
  _Atomic uint64_t word;  /* generation << 32 | back << 16 | front */
  _Atomic(NnrtTaskFn) fn; /* the job of the current generation */
  _Atomic(void *) ctx;
  _Atomic int64_t chunks;
  _Atomic int64_t done;      /* chunks finished in this generation */
  _Atomic uint32_t wake;     /* futex word: bumped to wake sleepers */
  _Atomic int sleepers;      /* workers in (or entering) futex wait */
  _Atomic int busy;          /* a job is posted (one at a time) */
  _Atomic int64_t solo_until; /* now_ns() before which the caller runs jobs alone */
  int64_t solo_ns;             /* the last solo spell (only the busy caller touches it) */
  _Atomic int size;          /* threads, the caller included */
  _Atomic int64_t spin_ns;
  pthread_mutex_t start_lock;
} Team;

static Team team = {.size = 1, .start_lock = PTHREAD_MUTEX_INITIALIZER};
static _Thread_local bool in_chunk; /* this thread runs a chunk now */

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *w, uint32_t expect) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *w) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, MAX_TEAM, NULL, NULL, 0);
}

/* Claim and run chunks of generation gen until none is left (or the job
 * changed under us: then there is nothing of gen left to take).  The
 * caller claims from the front, the workers from the back: consecutive
 * jobs split by the same rule of their shape (a GEMM's rows, then the bias
 * added to them) then give each thread the same region, still in its
 * cache; interleaved claims sent half of every region through the other
 * core's cache. */
static void run_chunks(uint32_t gen, bool from_back) {
  for (;;) {
    uint64_t w = atomic_load_explicit(&team.word, memory_order_acquire);
    if ((uint32_t)(w >> 32) != gen)
      return;
    NnrtTaskFn fn = atomic_load_explicit(&team.fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&team.ctx, memory_order_relaxed);
    int64_t front = (int64_t)(w & CHUNK_MASK), back = (int64_t)((w >> 16) & CHUNK_MASK);
    if (front >= back)
      return;
    int64_t i = from_back ? back - 1 : front;
    uint64_t next = from_back ? w - ((uint64_t)1 << 16) : w + 1;
    /* the fields above belong to gen if the word is still the same now */
    if (!atomic_compare_exchange_weak_explicit(&team.word, &w, next, memory_order_acq_rel,
                                               memory_order_acquire))
      continue;
    in_chunk = true;
    fn(ctx, i);
    in_chunk = false;
    atomic_fetch_add_explicit(&team.done, 1, memory_order_release);
  }
}

static void *worker(void *arg) {
  (void)arg;
  omp_set_num_threads(1); /* oneDNN inside a chunk runs on this thread alone */
  uint32_t seen = (uint32_t)(atomic_load(&team.word) >> 32);
  bool worked = false; /* no spin before the first job: a program that never splits
                        * work (XOR) must not lose a core's share to a spinner */
  for (;;) {
    const int64_t spin = worked ? atomic_load_explicit(&team.spin_ns, memory_order_relaxed) : 0;
    const int64_t until = now_ns() + spin;
    uint32_t gen = seen;
    for (unsigned n = 0;; n++) {
      gen = (uint32_t)(atomic_load_explicit(&team.word, memory_order_acquire) >> 32);
      if (gen != seen || spin == 0 || ((n & 63) == 63 && now_ns() > until))
        break;
      if (n < YIELD_AFTER)
        CPU_RELAX();
      else /* spinning a while: let a thread of another process waiting for this core run */
        sched_yield();
    }
    if (gen == seen) { /* idle for SPIN_US: sleep until a job is posted */
      uint32_t wake = atomic_load(&team.wake);
      atomic_fetch_add(&team.sleepers, 1);
      if ((uint32_t)(atomic_load(&team.word) >> 32) == seen)
        futex_wait(&team.wake, wake);
      atomic_fetch_sub(&team.sleepers, 1);
      continue;
    }
    seen = gen;
    worked = true;
    run_chunks(gen, true);
  }
  return NULL;
}

static int64_t spin_setting(void) {
  const char *e = getenv("NNRT_SPIN_US");
  char *end;
  long v = e && *e ? strtol(e, &end, 10) : -1;
  return (v >= 0 && v <= 1000000 && e && *end == '\0' ? v : SPIN_US) * 1000;
}

void nnrt_team_set(int threads) {
  pthread_mutex_lock(&team.start_lock);
  if (threads > MAX_TEAM)
    threads = MAX_TEAM;
  team.spin_ns = spin_setting();
  /* Workers are only ever added: a smaller count lets the extra ones sleep
   * (they take no chunk unless a job wakes them, and jobs are split by
   * shape, so who runs a chunk does not matter). */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  while (team.size < threads) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker, NULL) != 0)
      break; /* fewer threads: slower, same results */
    team.size++;
  }
  pthread_attr_destroy(&attr);
  pthread_mutex_unlock(&team.start_lock);
}

int nnrt_team_size(void) { return team.size; }

/* A job of more than MAX_CHUNKS chunks: groups of `per` consecutive
 * chunks, each group one chunk of the team's job, run in order. */
struct WideJob {
  NnrtTaskFn fn;
  void *ctx;
  int64_t chunks, per;
};

static void wide_piece(void *ctx, int64_t p) {
  const struct WideJob *j = ctx;
  int64_t end = (p + 1) * j->per < j->chunks ? (p + 1) * j->per : j->chunks;
  for (int64_t i = p * j->per; i < end; i++)
    j->fn(j->ctx, i);
}

void nnrt_team_run(NnrtTaskFn fn, void *ctx, int64_t chunks) {
  if (chunks <= 0)
    return;
  if (chunks > MAX_CHUNKS && team.size > 1 && !in_chunk) {
    struct WideJob j = {fn, ctx, chunks, (chunks + MAX_CHUNKS - 1) / MAX_CHUNKS};
    nnrt_team_run(wide_piece, &j, (chunks + j.per - 1) / j.per);
    return;
  }
  int idle = 0;
  if (chunks == 1 || team.size == 1 || in_chunk ||
      !atomic_compare_exchange_strong(&team.busy, &idle, 1)) {
    for (int64_t i = 0; i < chunks; i++)
      fn(ctx, i);
    return;
  }
  int64_t t0 = now_ns();
  if (t0 < atomic_load_explicit(&team.solo_until, memory_order_relaxed)) { /* see STALL_NS */
    for (int64_t i = 0; i < chunks; i++)
      fn(ctx, i);
    atomic_store(&team.busy, 0);
    return;
  }
  /* Close the previous job first: a worker that read its word (all chunks
   * claimed) and then this job's fields must not win a claim with them. */
  uint64_t prev = atomic_load(&team.word) & ~(uint64_t)0xffffffffu; /* front = back: nothing to claim */
  atomic_store(&team.word, prev);
  uint32_t gen = (uint32_t)(prev >> 32) + 1;
  atomic_store_explicit(&team.fn, fn, memory_order_relaxed);
  atomic_store_explicit(&team.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&team.chunks, chunks, memory_order_relaxed);
  atomic_store_explicit(&team.done, 0, memory_order_relaxed);
  atomic_store(&team.word, (uint64_t)gen << 32 | (uint64_t)chunks << 16); /* publishes the fields */
  if (atomic_load(&team.sleepers) > 0) {
    atomic_fetch_add(&team.wake, 1);
    futex_wake_all(&team.wake);
  }
  run_chunks(gen, false);
  /* Chunks other threads claimed: wait for them (yielding after a while, in
   * case the one running it shares this core). */
  int64_t t1 = now_ns();
  for (unsigned n = 0; atomic_load_explicit(&team.done, memory_order_acquire) < chunks; n++) {
    if (n < YIELD_AFTER)
      CPU_RELAX();
    else
      sched_yield();
  }
  int64_t waited = now_ns() - t1;
  if (waited > STALL_NS && waited > t1 - t0) { /* a worker lost its core: go solo a while */
    int64_t t = now_ns(), until = atomic_load_explicit(&team.solo_until, memory_order_relaxed);
    /* again soon after the last solo spell: twice as long (a busy machine);
     * else the shortest (a hiccup of the VM) */
    team.solo_ns = t - until < 2 * team.solo_ns ? (2 * team.solo_ns < SOLO_MAX_NS ? 2 * team.solo_ns : SOLO_MAX_NS)
                                                : SOLO_MIN_NS;
    atomic_store_explicit(&team.solo_until, t + team.solo_ns, memory_order_relaxed);
  }
  atomic_store(&team.busy, 0);
}

/* A fused group of the generated code split over the team (codegen/llvm.c,
 * `par`): item(ctx, slots, scratch, batch, tab, chunk, chunks) runs chunk
 * `chunk` of `chunks`.  The count follows the group's size (about
 * PAR_CHUNK elements each, at most PAR_MAX; `elements` is weighted by the
 * cost of the group's element, so a group of sigmoids and tanhs splits
 * sooner than one of adds), never the thread count; the
 * split does not change what is computed anyway (each element is computed
 * whole inside one chunk). */
enum { PAR_CHUNK = 8192, PAR_MAX = 16 };
typedef void (*NnrtParItem)(void *ctx, void **slots, void *scratch, int64_t batch, const int64_t *tab,
                            int64_t chunk, int64_t chunks);
struct ParJob {
  NnrtParItem item;
  void *ctx, **slots, *scratch;
  int64_t batch, chunks;
  const int64_t *tab;
};

static void par_chunk(void *ctx, int64_t i) {
  const struct ParJob *j = ctx;
  j->item(j->ctx, j->slots, j->scratch, j->batch, j->tab, i, j->chunks);
}

/* item in `chunks` chunks on the team (fewer than 2, or no team: whole, here) */
static void par_run(NnrtParItem item, void *ctx, void **slots, void *scratch, int64_t batch, const int64_t *tab,
                    int64_t chunks) {
  if (chunks < 2 || nnrt_team_size() < 2) {
    item(ctx, slots, scratch, batch, tab, 0, 1);
    return;
  }
  struct ParJob j = {item, ctx, slots, scratch, batch, chunks, tab};
  nnrt_team_run(par_chunk, &j, chunks);
}

void nnrt_par_item(NnrtParItem item, void *ctx, void **slots, void *scratch, int64_t batch, const int64_t *tab,
                   int64_t elements) {
  int64_t chunks = elements / PAR_CHUNK;
  par_run(item, ctx, slots, scratch, batch, tab, chunks > PAR_MAX ? PAR_MAX : chunks);
}

/* A column sum (codegen/llvm.c, column_sum) on the team: one chunk per
 * thread, each a range of columns summed over every row in order.  Which
 * thread sums which column never changes a bit, so here the count follows
 * the team: the fewer the chunks, the longer the piece of each row a
 * chunk reads. */
void nnrt_par_team(NnrtParItem item, void *ctx, void **slots, void *scratch, int64_t batch, const int64_t *tab,
                   int64_t elements) {
  par_run(item, ctx, slots, scratch, batch, tab, elements < 2 * PAR_CHUNK ? 1 : nnrt_team_size());
}
