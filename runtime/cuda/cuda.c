/*
 * cuda.c — the CUDA driver API and cuBLAS behind --device cuda: loading
 * them with dlopen, the device memory plan, and the walk over the launch
 * schedule that codegen/nvptx.c embedded (schedule.h).
 *
 * Memory: one device block per run, carved like the host's: every slot
 * (sized for the largest batch B), each param's optimizer state, one
 * scratch area laid out for B that both kernels share (they never run at
 * once), per-kernel tables of buffer addresses (what the kernels receive)
 * and two doubles of loss/correct sums.  A smaller batch uses the leading
 * rows of every buffer, so one table serves all batch sizes up to B.
 *
 * Work is queued on one stream; host code waits only where it reads
 * results (outputs, the epoch's sums, checkpoints).  A CUDA error after
 * start-up is reported in one line and ends the process (exit 1): there is
 * no sensible way to go on with device state in an unknown condition.
 *
 * It deliberately does not include cuda.h: the dozen entry points it uses
 * are declared here with the driver's stable ABI (the _v2 names), so the
 * runtime builds and runs where no CUDA toolkit is installed.
 */
#include "cuda.h"
#include "schedule.h"
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream, *CUevent, *CUgraph, *CUgraphExec;

static struct {
  CUresult (*Init)(unsigned);
  CUresult (*DeviceGetCount)(int *);
  CUresult (*DeviceGet)(CUdevice *, int);
  CUresult (*DeviceGetName)(char *, int, CUdevice);
  CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*CtxSetCurrent)(CUcontext);
  CUresult (*ModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*MemAlloc)(NnrtDevPtr *, size_t);
  CUresult (*MemFree)(NnrtDevPtr);
  CUresult (*MemcpyHtoDAsync)(NnrtDevPtr, const void *, size_t, CUstream);
  CUresult (*MemcpyDtoHAsync)(void *, NnrtDevPtr, size_t, CUstream);
  CUresult (*MemsetD8Async)(NnrtDevPtr, unsigned char, size_t, CUstream);
  CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                           unsigned, CUstream, void **, void **);
  CUresult (*StreamCreate)(CUstream *, unsigned);
  CUresult (*StreamSynchronize)(CUstream);
  CUresult (*EventCreate)(CUevent *, unsigned);
  CUresult (*EventRecord)(CUevent, CUstream);
  CUresult (*EventSynchronize)(CUevent);
  CUresult (*MemHostRegister)(void *, size_t, unsigned);
  CUresult (*MemHostUnregister)(void *);
  CUresult (*GetErrorName)(CUresult, const char **);
  /* CUDA graphs (optional: without them every step is launched one by one) */
  CUresult (*StreamBeginCapture)(CUstream, int);
  CUresult (*StreamEndCapture)(CUstream, CUgraph *);
  CUresult (*GraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long);
  CUresult (*GraphLaunch)(CUgraphExec, CUstream);
  CUresult (*GraphDestroy)(CUgraph);
  CUresult (*GraphExecDestroy)(CUgraphExec);
} cu;

typedef void *cublasHandle_t;
static struct {
  int (*Create)(cublasHandle_t *);
  int (*SetStream)(cublasHandle_t, CUstream);
  int (*Sgemm)(cublasHandle_t, int, int, int, int, int, const float *, const float *, int,
               const float *, int, const float *, float *, int);
  int (*Dgemm)(cublasHandle_t, int, int, int, int, int, const double *, const double *, int,
               const double *, int, const double *, double *, int);
  int (*SgemmB)(cublasHandle_t, int, int, int, int, int, const float *, const float *, int, long long,
                const float *, int, long long, const float *, float *, int, long long, int);
  int (*DgemmB)(cublasHandle_t, int, int, int, int, int, const double *, const double *, int, long long,
                const double *, int, long long, const double *, double *, int, long long, int);
} blas;

static const char *ptx_text;
static const int64_t *tables[2];

/* The device state of this process (one program per process). */
static struct {
  bool open;
  char name[128];
  CUdevice dev;
  CUcontext ctx;
  CUmodule mod;
  CUstream st;
  CUevent copies;
  cublasHandle_t h;
  CUfunction *fns[2], opt[2], acc;
  CUfunction sqsum[2], clip, scale[2]; /* gradient-norm clipping */
  const NnrtProgram *p;
  int64_t B;              /* batch the block is sized for; 0: none yet */
  NnrtDevPtr block;
  NnrtDevPtr *slot;       /* per slot */
  NnrtDevPtr **opt_state; /* per grad entry, nnrt_opt_nstate pointers */
  NnrtDevPtr *bufs[2];    /* buffer addresses per kernel (host copy) */
  NnrtDevPtr dtab[2];     /* ... and on the device */
  NnrtDevPtr sums;        /* 2 doubles */
  NnrtDevPtr clip_part;   /* NNRT_CLIP_PARTS doubles, zero between steps, then the factor */
  double *hsums;
  NnrtDevPtr hyper;       /* NNRT_CUDA_STAGES x ngrads x {lr, ic1, ic2} */
  bool capturing, capture_bad;
  CUgraphExec exec[NNRT_CUDA_STAGES];
  NnrtDevPtr exec_block[NNRT_CUDA_STAGES]; /* G.block when captured */
  int64_t launches;       /* kernel launches and GEMM calls, for NNRT_CUDA_STATS */
} G;

void nnrt_cuda_program(NnrtProgram *p, const char *ptx, const int64_t *train, const int64_t *eval) {
  (void)p;
  ptx_text = ptx;
  tables[0] = train;
  tables[1] = eval;
}

static const char *errname(CUresult r) {
  const char *s = NULL;
  if (cu.GetErrorName && cu.GetErrorName(r, &s) == 0 && s)
    return s;
  return "unknown CUDA error";
}

static void check(CUresult r, const char *what) {
  if (r == 0)
    return;
  fprintf(stderr, "error: cuda: %s failed: %s (%d)\n", what, errname(r), r);
  exit(1);
}

static void *sym(void *lib, const char *name, const char *libname) {
  void *f = dlsym(lib, name);
  if (!f)
    fprintf(stderr, "error: --device cuda: %s has no %s (driver too old?)\n", libname, name);
  return f;
}

static int load_driver(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    fprintf(stderr, "error: --device cuda: no CUDA driver found (%s)\n", e ? e : "libcuda.so.1");
    return -1;
  }
#define S(field, name)                                              \
  if (!(*(void **)&cu.field = sym(lib, name, "libcuda.so.1")))      \
    return -1;
  S(Init, "cuInit") S(DeviceGetCount, "cuDeviceGetCount") S(DeviceGet, "cuDeviceGet")
  S(DeviceGetName, "cuDeviceGetName") S(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
  S(CtxSetCurrent, "cuCtxSetCurrent") S(ModuleLoadDataEx, "cuModuleLoadDataEx")
  S(ModuleGetFunction, "cuModuleGetFunction") S(MemAlloc, "cuMemAlloc_v2") S(MemFree, "cuMemFree_v2")
  S(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2") S(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")
  S(MemsetD8Async, "cuMemsetD8Async") S(LaunchKernel, "cuLaunchKernel") S(StreamCreate, "cuStreamCreate")
  S(StreamSynchronize, "cuStreamSynchronize") S(EventCreate, "cuEventCreate") S(EventRecord, "cuEventRecord")
  S(EventSynchronize, "cuEventSynchronize") S(MemHostRegister, "cuMemHostRegister_v2")
  S(MemHostUnregister, "cuMemHostUnregister") S(GetErrorName, "cuGetErrorName")
#undef S
  *(void **)&cu.StreamBeginCapture = dlsym(lib, "cuStreamBeginCapture_v2");
  *(void **)&cu.StreamEndCapture = dlsym(lib, "cuStreamEndCapture");
  *(void **)&cu.GraphInstantiate = dlsym(lib, "cuGraphInstantiateWithFlags");
  *(void **)&cu.GraphLaunch = dlsym(lib, "cuGraphLaunch");
  *(void **)&cu.GraphDestroy = dlsym(lib, "cuGraphDestroy");
  *(void **)&cu.GraphExecDestroy = dlsym(lib, "cuGraphExecDestroy");
  return 0;
}

static int load_cublas(void) {
  const char *env = getenv("NNRT_CUBLAS");
  const char *names[] = {env, "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"};
  void *lib = NULL;
  const char *err = NULL;
  char first[256] = "";
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++) {
    if (!names[i] || !*names[i])
      continue;
    lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib && !*first && (err = dlerror()))
      snprintf(first, sizeof first, "%s", err);
  }
  if (!lib) {
    fprintf(stderr, "error: --device cuda: cuBLAS not found (%s; set NNRT_CUBLAS or LD_LIBRARY_PATH)\n", first);
    return -1;
  }
#define S(field, name)                                        \
  if (!(*(void **)&blas.field = sym(lib, name, "libcublas"))) \
    return -1;
  S(Create, "cublasCreate_v2") S(SetStream, "cublasSetStream_v2") S(Sgemm, "cublasSgemm_v2")
  S(Dgemm, "cublasDgemm_v2") S(SgemmB, "cublasSgemmStridedBatched") S(DgemmB, "cublasDgemmStridedBatched")
#undef S
  return 0;
}

static void wrap_train(void *ctx, void **slots, char *scratch, int64_t batch);
static void wrap_eval(void *ctx, void **slots, char *scratch, int64_t batch);

int nnrt_cuda_select(NnrtProgram *p) {
  if (!ptx_text) {
    fprintf(stderr, "error: --device cuda: this executable has no GPU code (build it with 'nnc build --cuda')\n");
    return -1;
  }
  if (!G.open) {
    if (load_driver() != 0)
      return -1;
    CUresult r = cu.Init(0);
    int n = 0;
    if (r == 0)
      r = cu.DeviceGetCount(&n);
    if (r != 0 || n == 0) {
      fprintf(stderr, "error: --device cuda: no CUDA device found (%s)\n", r ? errname(r) : "device count is 0");
      return -1;
    }
    check(cu.DeviceGet(&G.dev, 0), "cuDeviceGet");
    check(cu.DeviceGetName(G.name, sizeof G.name, G.dev), "cuDeviceGetName");
    check(cu.DevicePrimaryCtxRetain(&G.ctx, G.dev), "cuDevicePrimaryCtxRetain");
    check(cu.CtxSetCurrent(G.ctx), "cuCtxSetCurrent");
    char log[8192] = "";
    int opts[] = {5, 6}; /* CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */
    void *vals[] = {log, (void *)(uintptr_t)sizeof log};
    r = cu.ModuleLoadDataEx(&G.mod, ptx_text, 2, opts, vals);
    if (r != 0) {
      fprintf(stderr, "error: --device cuda: the GPU rejected the PTX (%s)%s%s\n", errname(r), *log ? ": " : "", log);
      return -1;
    }
    if (load_cublas() != 0)
      return -1;
    check(cu.StreamCreate(&G.st, 0), "cuStreamCreate");
    check(cu.EventCreate(&G.copies, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
    if (blas.Create(&G.h) != 0) {
      fprintf(stderr, "error: --device cuda: cublasCreate failed\n");
      return -1;
    }
    blas.SetStream(G.h, G.st);
    check(cu.ModuleGetFunction(&G.opt[0], G.mod, "nnc_opt_f32"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.opt[1], G.mod, "nnc_opt_f64"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.acc, G.mod, "nnc_acc"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.sqsum[0], G.mod, "nnc_sqsum_f32"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.sqsum[1], G.mod, "nnc_sqsum_f64"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.clip, G.mod, "nnc_clip"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.scale[0], G.mod, "nnc_scale_f32"), "cuModuleGetFunction");
    check(cu.ModuleGetFunction(&G.scale[1], G.mod, "nnc_scale_f64"), "cuModuleGetFunction");
    for (int w = 0; w < 2; w++) {
      const int64_t *t = tables[w];
      int64_t nb = t[0], ns = t[1];
      const int64_t *steps = t + NNRT_CUDA_HEAD_WORDS + nb * NNRT_CUDA_BUF_WORDS;
      G.fns[w] = calloc((size_t)(ns ? ns : 1), sizeof(CUfunction));
      if (!G.fns[w]) {
        nnrt_oom("kernel table", (size_t)ns * sizeof(CUfunction));
        return -1;
      }
      for (int64_t i = 0; i < ns; i++) {
        const int64_t *s = steps + i * NNRT_CUDA_STEP_WORDS;
        if (s[NNRT_CUDA_STEP_KIND] != NNRT_CUDA_KERNEL)
          continue;
        char name[64];
        snprintf(name, sizeof name, "nnc_%s_%lld", w ? "eval" : "train", (long long)s[NNRT_CUDA_STEP_ID]);
        check(cu.ModuleGetFunction(&G.fns[w][i], G.mod, name), name);
      }
    }
    G.open = true;
  }
  G.p = p;
  if (p->train)
    p->train = wrap_train;
  if (p->eval)
    p->eval = wrap_eval;
  return 0;
}

const char *nnrt_cuda_device_name(void) { return G.name; }

/* ---- memory ---------------------------------------------------------------- */

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

static int64_t dimv(int64_t k, int64_t b, int64_t B) {
  for (int64_t i = 0; i < b; i++)
    k *= B;
  return k;
}

static size_t slot_bytes(const NnrtProgram *p, int i, int64_t batch) {
  return (size_t)nnrt_slot_count(&p->slots[i], batch) * nnrt_dtype_size(p->slots[i].dtype);
}

int nnrt_cuda_reserve(const NnrtProgram *p, int64_t B, const NnrtSession *s) {
  if (G.B >= B && (!s || G.opt_state))
    return 0;
  if (G.block) {
    check(cu.StreamSynchronize(G.st), "cuStreamSynchronize");
    check(cu.MemFree(G.block), "cuMemFree");
  }
  size_t total = 0;
  for (int i = 0; i < p->nslots; i++)
    total += align256(slot_bytes(p, i, B));
  if (s)
    for (int g = 0; g < p->ngrads; g++)
      total += align256(slot_bytes(p, p->grads[g].param, 1)) * (size_t)nnrt_opt_nstate(&s->cfg[p->grads[g].opt]);
  size_t scratch = 0;
  for (int w = 0; w < 2; w++) {
    const int64_t *t = tables[w];
    size_t mine = align256((size_t)(t[NNRT_CUDA_HEAD_TOTALB] * B + t[NNRT_CUDA_HEAD_TOTAL0]));
    for (int64_t i = 0; i < t[0]; i++) {
      const int64_t *b = t + NNRT_CUDA_HEAD_WORDS + i * NNRT_CUDA_BUF_WORDS;
      if (b[NNRT_CUDA_BUF_SLOT] == NNRT_CUDA_BUF_OWN)
        mine += align256((size_t)(dimv(b[NNRT_CUDA_BUF_K], b[NNRT_CUDA_BUF_B], B) * b[NNRT_CUDA_BUF_DSIZE]));
    }
    total += align256((size_t)t[0] * sizeof(NnrtDevPtr));
    scratch = mine > scratch ? mine : scratch;
  }
  total += scratch + 256 + align256((NNRT_CLIP_PARTS + 1) * sizeof(double)) + align256((size_t)NNRT_CUDA_STAGES * 3 * sizeof(double) * (size_t)(p->ngrads + 1));
  CUresult r = cu.MemAlloc(&G.block, total);
  if (r != 0) {
    fprintf(stderr, "error: cuda: cannot allocate %.1f MiB of GPU memory (%s)\n", (double)total / 1048576, errname(r));
    return -1;
  }
  check(cu.MemsetD8Async(G.block, 0, total, G.st), "cuMemsetD8Async");
  NnrtDevPtr at = G.block;
  free(G.slot);
  G.slot = calloc((size_t)p->nslots + 1, sizeof *G.slot);
  for (int i = 0; i < p->nslots; i++) {
    G.slot[i] = at;
    at += align256(slot_bytes(p, i, B));
  }
  if (s) {
    G.opt_state = calloc((size_t)p->ngrads + 1, sizeof *G.opt_state);
    for (int g = 0; g < p->ngrads; g++) {
      int ns = nnrt_opt_nstate(&s->cfg[p->grads[g].opt]);
      G.opt_state[g] = calloc(4, sizeof(NnrtDevPtr));
      for (int k = 0; k < ns; k++) {
        G.opt_state[g][k] = at;
        at += align256(slot_bytes(p, p->grads[g].param, 1));
      }
    }
  }
  G.sums = at;
  at += 256;
  G.clip_part = at; /* zeroed with the block; nnc_clip zeroes it again */
  at += align256((NNRT_CLIP_PARTS + 1) * sizeof(double));
  G.hyper = at;
  at += align256((size_t)NNRT_CUDA_STAGES * 3 * sizeof(double) * (size_t)(p->ngrads + 1));
  NnrtDevPtr scr0 = at;
  at += scratch;
  for (int w = 0; w < 2; w++) {
    const int64_t *t = tables[w];
    free(G.bufs[w]);
    G.bufs[w] = calloc((size_t)t[0] + 1, sizeof(NnrtDevPtr));
    NnrtDevPtr sa = scr0 + align256((size_t)(t[NNRT_CUDA_HEAD_TOTALB] * B + t[NNRT_CUDA_HEAD_TOTAL0]));
    for (int64_t i = 0; i < t[0]; i++) {
      const int64_t *b = t + NNRT_CUDA_HEAD_WORDS + i * NNRT_CUDA_BUF_WORDS;
      if (b[NNRT_CUDA_BUF_SLOT] >= 0) {
        G.bufs[w][i] = G.slot[b[NNRT_CUDA_BUF_SLOT]];
      } else if (b[NNRT_CUDA_BUF_SLOT] == NNRT_CUDA_BUF_PLANNED) { /* memplan.c's block, laid out for B */
        int64_t off = b[NNRT_CUDA_BUF_K];
        G.bufs[w][i] = scr0 + (NnrtDevPtr)(b[NNRT_CUDA_BUF_B] == 1 ? off * B : t[NNRT_CUDA_HEAD_TOTALB] * B + off);
      } else {
        G.bufs[w][i] = sa;
        sa += align256((size_t)(dimv(b[NNRT_CUDA_BUF_K], b[NNRT_CUDA_BUF_B], B) * b[NNRT_CUDA_BUF_DSIZE]));
      }
    }
    G.dtab[w] = at;
    at += align256((size_t)t[0] * sizeof(NnrtDevPtr));
    if (t[0])
      check(cu.MemcpyHtoDAsync(G.dtab[w], G.bufs[w], (size_t)t[0] * sizeof(NnrtDevPtr), G.st), "cuMemcpyHtoD");
  }
  if (!G.hsums)
    G.hsums = calloc(2, sizeof(double));
  check(cu.StreamSynchronize(G.st), "cuStreamSynchronize");
  G.B = B;
  return 0;
}

NnrtDevPtr nnrt_cuda_slot(int slot) { return G.slot[slot]; }
NnrtDevPtr nnrt_cuda_opt_state(int grad, int k) { return G.opt_state[grad][k]; }

void nnrt_cuda_copy(NnrtDevPtr dst, const void *src, size_t n, bool to_device) {
  if (!n)
    return;
  if (to_device)
    check(cu.MemcpyHtoDAsync(dst, src, n, G.st), "cuMemcpyHtoDAsync");
  else {
    check(cu.MemcpyDtoHAsync((void *)src, dst, n, G.st), "cuMemcpyDtoHAsync");
    check(cu.StreamSynchronize(G.st), "cuStreamSynchronize");
  }
}

void nnrt_cuda_upload(int slot, const void *host, int64_t batch, bool async) {
  nnrt_cuda_copy(G.slot[slot], host, slot_bytes(G.p, slot, batch), true);
  if (!async)
    check(cu.StreamSynchronize(G.st), "cuStreamSynchronize");
}

void nnrt_cuda_download(int slot, void *host, int64_t batch) {
  nnrt_cuda_copy(G.slot[slot], host, slot_bytes(G.p, slot, batch), false);
}

void nnrt_cuda_sync(void) { check(cu.StreamSynchronize(G.st), "cuStreamSynchronize"); }
void nnrt_cuda_mark_copies(void) { check(cu.EventRecord(G.copies, G.st), "cuEventRecord"); }
void nnrt_cuda_wait_copies(void) { check(cu.EventSynchronize(G.copies), "cuEventSynchronize"); }

int nnrt_cuda_pin(void *host, size_t bytes) {
  if (cu.MemHostRegister(host, bytes, 0) == 0)
    return 0;
  fprintf(stderr, "warning: cuda: could not page-lock %zu bytes; batch copies will be synchronous\n", bytes);
  return -1;
}
void nnrt_cuda_unpin(void *host) { cu.MemHostUnregister(host); }

/* ---- the schedule ------------------------------------------------------------ */

static unsigned grid(int64_t n) {
  int64_t g = (n + NNRT_CUDA_BLOCK - 1) / NNRT_CUDA_BLOCK;
  return (unsigned)(g < 1 ? 1 : g > 8192 ? 8192 : g);
}

static void launch(CUfunction f, int64_t n, void **args) {
  G.launches += !G.capturing;
  check(cu.LaunchKernel(f, grid(n), 1, 1, NNRT_CUDA_BLOCK, 1, 1, 0, G.st, args, NULL), "cuLaunchKernel");
}

void nnrt_cuda_run(int which, int64_t batch, void *ctx) {
  const int64_t *t = tables[which];
  const int64_t *steps = t + NNRT_CUDA_HEAD_WORDS + t[0] * NNRT_CUDA_BUF_WORDS;
  NnrtDevPtr *bufs = G.bufs[which];
  for (int64_t i = 0; i < t[1]; i++) {
    const int64_t *s = steps + i * NNRT_CUDA_STEP_WORDS;
    int64_t n = dimv(s[NNRT_CUDA_STEP_NK], s[NNRT_CUDA_STEP_NB], batch);
    switch (s[NNRT_CUDA_STEP_KIND]) {
    case NNRT_CUDA_KERNEL: {
      if (n <= 0)
        break;
      void *args[] = {&G.dtab[which], &batch};
      launch(G.fns[which][i], n, args);
      break;
    }
    case NNRT_CUDA_GEMM: { /* row-major C = op(A) op(B) is column-major C' = op(B)' op(A)' */
      int M = (int)dimv(s[NNRT_CUDA_STEP_MK], s[NNRT_CUDA_STEP_MB], batch);
      int N = (int)dimv(s[NNRT_CUDA_STEP_GNK], s[NNRT_CUDA_STEP_GNB], batch);
      int K = (int)dimv(s[NNRT_CUDA_STEP_KK], s[NNRT_CUDA_STEP_KB], batch);
      int lda = (int)dimv(s[NNRT_CUDA_STEP_LDAK], s[NNRT_CUDA_STEP_LDAB], batch);
      int ldb = (int)dimv(s[NNRT_CUDA_STEP_LDBK], s[NNRT_CUDA_STEP_LDBB], batch);
      int ta = (int)s[NNRT_CUDA_STEP_TA], tb = (int)s[NNRT_CUDA_STEP_TB];
      NnrtDevPtr a = bufs[s[NNRT_CUDA_STEP_A]], b = bufs[s[NNRT_CUDA_STEP_B]], c = bufs[s[NNRT_CUDA_STEP_C]];
      int64_t cnt = dimv(s[NNRT_CUDA_STEP_CNTK], s[NNRT_CUDA_STEP_CNTB], batch);
      long long sa = dimv(s[NNRT_CUDA_STEP_SAK], s[NNRT_CUDA_STEP_SAB], batch);
      long long sb = dimv(s[NNRT_CUDA_STEP_SBK], s[NNRT_CUDA_STEP_SBB], batch), sc = (long long)M * N;
      if (M == 0 || N == 0 || cnt == 0)
        break;
      G.launches += !G.capturing;
      int r;
      if (cnt != 1 && s[NNRT_CUDA_STEP_DT] == NNRT_F64) { /* a strided batch: [..., m, k] @ [..., k, n] */
        const double one = 1, zero = 0;
        r = blas.DgemmB(G.h, tb, ta, N, M, K, &one, (const double *)b, ldb, sb, (const double *)a, lda, sa, &zero,
                        (double *)c, N, sc, (int)cnt);
      } else if (cnt != 1) {
        const float one = 1, zero = 0;
        r = blas.SgemmB(G.h, tb, ta, N, M, K, &one, (const float *)b, ldb, sb, (const float *)a, lda, sa, &zero,
                        (float *)c, N, sc, (int)cnt);
      } else if (s[NNRT_CUDA_STEP_DT] == NNRT_F64) {
        const double one = 1, zero = 0;
        r = blas.Dgemm(G.h, tb, ta, N, M, K, &one, (const double *)b, ldb, (const double *)a, lda, &zero, (double *)c, N);
      } else {
        const float one = 1, zero = 0;
        r = blas.Sgemm(G.h, tb, ta, N, M, K, &one, (const float *)b, ldb, (const float *)a, lda, &zero, (float *)c, N);
      }
      if (r != 0 && G.capturing) { /* the capture is abandoned; steps run one by one */
        G.capture_bad = true;
      } else if (r != 0) {
        fprintf(stderr, "error: cuda: cuBLAS gemm failed (status %d)\n", r);
        exit(1);
      }
      break;
    }
    case NNRT_CUDA_RAND: { /* host draws, same order as the CPU kernel */
      size_t es = s[NNRT_CUDA_STEP_DT] == NNRT_F64 ? 8 : 4;
      char *h = malloc((size_t)n * es + 1);
      if (!h) {
        nnrt_oom("random numbers", (size_t)n * es);
        exit(1);
      }
      for (int64_t k = 0; k < n; k++) {
        double v = s[NNRT_CUDA_STEP_TA] ? nnrt_normal(ctx) : nnrt_uniform(ctx);
        if (es == 8) ((double *)h)[k] = v;
        else ((float *)h)[k] = (float)v;
      }
      nnrt_cuda_copy(bufs[s[NNRT_CUDA_STEP_C]], h, (size_t)n * es, true);
      check(cu.StreamSynchronize(G.st), "cuStreamSynchronize");
      free(h);
      break;
    }
    }
  }
}

void nnrt_cuda_opt_hyper(const NnrtOptConfig *c, double lr, int64_t t, double out[3]) {
  double h[10];
  nnrt_opt_args(c, lr, t, h);
  out[0] = h[0], out[1] = h[8], out[2] = h[9]; /* lr, ic1, ic2 */
}

void nnrt_cuda_opt_step(const NnrtOptConfig *c, double lr, int64_t t, NnrtDtype dt,
                        NnrtDevPtr param, NnrtDevPtr grad, NnrtDevPtr s0, NnrtDevPtr s1, NnrtDevPtr s2,
                        int64_t n, NnrtDevPtr dyn) {
  int kind = nnrt_opt_rule(c);
  double h[10]; /* the generated step's scalars, as on the CPU */
  nnrt_opt_args(c, lr, t, h);
  void *args[] = {&param, &grad, &s0, &s1, &s2, &n, &kind, &h[0], &h[1], &h[2], &h[3], &h[4], &h[5], &h[6], &h[7],
                  &h[8], &h[9], &dyn};
  launch(G.opt[dt == NNRT_F64], n, args);
}

void nnrt_cuda_clip(const NnrtProgram *p) {
  NnrtDevPtr part = G.clip_part, scale = G.clip_part + NNRT_CLIP_PARTS * sizeof(double);
  double max = p->clip_norm;
  for (int g = 0; g < p->ngrads; g++) {
    NnrtDevPtr grad = G.slot[p->grads[g].grad];
    int64_t n = nnrt_slot_count(&p->slots[p->grads[g].param], 1);
    void *args[] = {&grad, &n, &part};
    launch(G.sqsum[p->slots[p->grads[g].param].dtype == NNRT_F64], NNRT_CLIP_PARTS, args);
  }
  void *cargs[] = {&part, &max, &scale};
  launch(G.clip, 1, cargs);
  for (int g = 0; g < p->ngrads; g++) {
    NnrtDevPtr grad = G.slot[p->grads[g].grad];
    int64_t n = nnrt_slot_count(&p->slots[p->grads[g].param], 1);
    void *args[] = {&grad, &n, &scale};
    launch(G.scale[p->slots[p->grads[g].param].dtype == NNRT_F64], n, args);
  }
}

static int out_type(int slot) {
  if (slot < 0)
    return 0;
  NnrtDtype d = G.p->slots[slot].dtype;
  return d == NNRT_F32 ? 0 : d == NNRT_F64 ? 1 : 2;
}

void nnrt_cuda_accumulate(int loss_slot, int correct_slot, int64_t bs) {
  NnrtDevPtr l = loss_slot >= 0 ? G.slot[loss_slot] : 0, c = correct_slot >= 0 ? G.slot[correct_slot] : 0;
  int lt = out_type(loss_slot), ct = out_type(correct_slot);
  void *args[] = {&l, &lt, &c, &ct, &G.sums, &bs};
  launch(G.acc, 1, args);
}

void nnrt_cuda_read_acc(double acc[2]) {
  nnrt_cuda_copy(G.sums, G.hsums, 2 * sizeof(double), false);
  acc[0] = G.hsums[0];
  acc[1] = G.hsums[1];
  check(cu.MemsetD8Async(G.sums, 0, 2 * sizeof(double), G.st), "cuMemsetD8Async");
}

/* ---- kernels called the CPU way: copy in, run, copy out ----------------------- */

static void wrap(int which, void *ctx, void **slots, int64_t batch) {
  const NnrtProgram *p = G.p;
  if (nnrt_cuda_reserve(p, batch, NULL) != 0)
    exit(1);
  for (int i = 0; i < p->nslots; i++) {
    NnrtRole r = p->slots[i].role;
    if (r == NNRT_SLOT_PARAM || r == NNRT_SLOT_STATE || r == NNRT_SLOT_INPUT)
      nnrt_cuda_upload(i, slots[i], batch, true);
  }
  nnrt_cuda_run(which, batch, ctx);
  for (int i = 0; i < p->nslots; i++) {
    NnrtRole r = p->slots[i].role;
    if (r == NNRT_SLOT_OUTPUT || r == NNRT_SLOT_STATE || (r == NNRT_SLOT_GRAD && which == 0))
      nnrt_cuda_download(i, slots[i], batch);
  }
}

static void wrap_train(void *ctx, void **slots, char *scratch, int64_t batch) { (void)scratch; wrap(0, ctx, slots, batch); }
static void wrap_eval(void *ctx, void **slots, char *scratch, int64_t batch) { (void)scratch; wrap(1, ctx, slots, batch); }

/* ---- CUDA graphs: a whole training step captured once, replayed ---------- */

bool nnrt_cuda_graphs_usable(int which) {
  if (!cu.StreamBeginCapture || !cu.StreamEndCapture || !cu.GraphInstantiate || !cu.GraphLaunch)
    return false;
  const char *e = getenv("NNRT_CUDA_GRAPHS");
  if (e && !strcmp(e, "0"))
    return false;
  const int64_t *t = tables[which];
  const int64_t *steps = t + NNRT_CUDA_HEAD_WORDS + t[0] * NNRT_CUDA_BUF_WORDS;
  for (int64_t i = 0; i < t[1]; i++) /* host random numbers need a host in the loop */
    if (steps[i * NNRT_CUDA_STEP_WORDS + NNRT_CUDA_STEP_KIND] == NNRT_CUDA_RAND)
      return false;
  return true;
}

NnrtDevPtr nnrt_cuda_hyper(int stage, int grad) {
  return G.hyper + (NnrtDevPtr)(((size_t)stage * (size_t)(G.p->ngrads + 1) + (size_t)grad) * 3 * sizeof(double));
}

bool nnrt_cuda_graph_ready(int stage) { return G.exec[stage] && G.exec_block[stage] == G.block; }

void nnrt_cuda_capture_begin(void) {
  check(cu.StreamBeginCapture(G.st, 2 /* CU_STREAM_CAPTURE_MODE_RELAXED */), "cuStreamBeginCapture");
  G.capturing = true;
  G.capture_bad = false;
}

int nnrt_cuda_capture_end(int stage) {
  CUgraph g = NULL;
  CUresult r = cu.StreamEndCapture(G.st, &g);
  G.capturing = false;
  if (r == 0 && !G.capture_bad && g) {
    if (G.exec[stage] && cu.GraphExecDestroy)
      cu.GraphExecDestroy(G.exec[stage]);
    G.exec[stage] = NULL;
    r = cu.GraphInstantiate(&G.exec[stage], g, 0);
  }
  if (g && cu.GraphDestroy)
    cu.GraphDestroy(g);
  if (r != 0 || G.capture_bad || !G.exec[stage]) {
    fprintf(stderr, "warning: cuda: capturing the training step as a CUDA graph failed (%s); steps run one by one\n",
            r ? errname(r) : "a cuBLAS call failed");
    G.exec[stage] = NULL;
    return -1;
  }
  G.exec_block[stage] = G.block;
  return 0;
}

void nnrt_cuda_graph_launch(int stage) {
  G.launches++;
  check(cu.GraphLaunch(G.exec[stage], G.st), "cuGraphLaunch");
}

void nnrt_cuda_record(int stage, bool wait) {
  static CUevent ev[NNRT_CUDA_STAGES];
  if (!ev[stage])
    check(cu.EventCreate(&ev[stage], 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
  if (wait)
    check(cu.EventSynchronize(ev[stage]), "cuEventSynchronize");
  else
    check(cu.EventRecord(ev[stage], G.st), "cuEventRecord");
}

int64_t nnrt_cuda_launches(void) { return G.launches; }
