/*
 * cuda.h — the GPU path of libnnrt (runtime/cuda/), private to the runtime.
 *
 * `OUT train|eval|gradcheck --device cuda` runs the program's PTX kernels
 * (embedded by `nnc build --cuda`) through the CUDA driver API, with GEMMs
 * in cuBLAS.  libcuda.so.1 and libcublas are opened with dlopen on first
 * use, so the executable links against neither and runs unchanged on a
 * machine without a GPU; there --device cuda fails with one line.
 */
#ifndef NNRT_CUDA_H
#define NNRT_CUDA_H

#include "../program.h"

/* Open the driver, the device, the PTX module and cuBLAS, and route
 * p->train / p->eval through the GPU (each call copies its inputs up and
 * its outputs down, so eval and gradcheck run unchanged).  Prints
 * "error: --device cuda: ..." and returns -1 when that is impossible. */
int nnrt_cuda_select(NnrtProgram *p);

/* The GPU backend of the training loop (train.c): parameters, gradients,
 * optimizer state and activations resident on the GPU for the whole run
 * (cuda/train.c). */
extern const NnrtBackend nnrt_cuda_backend;

/* ---- shared by cuda.c and train.c ---------------------------------------- */

typedef unsigned long long NnrtDevPtr;

/* Size device memory for batch B (slots, scratch, buffer tables and, with
 * s non-NULL, s's optimizer state); keeps what it has when B fits. */
int nnrt_cuda_reserve(const NnrtProgram *p, int64_t B, const NnrtSession *s);
NnrtDevPtr nnrt_cuda_slot(int slot);
NnrtDevPtr nnrt_cuda_opt_state(int grad, int k);
/* Host <-> device copies of whole slots (count for batch), on the stream. */
void nnrt_cuda_upload(int slot, const void *host, int64_t batch, bool async);
void nnrt_cuda_download(int slot, void *host, int64_t batch);
void nnrt_cuda_copy(NnrtDevPtr dst, const void *src, size_t n, bool to_device);
/* Run kernel 0 (train) or 1 (eval) for batch rows on the stream. */
void nnrt_cuda_run(int which, int64_t batch, void *ctx);
/* One optimizer step of n elements (see optim.c).  dyn, when not 0, is a
 * device address of {lr, ic1, ic2} (nnrt_cuda_opt_hyper) read by the
 * kernel instead of the values passed (so a CUDA graph can replay it). */
void nnrt_cuda_opt_step(const NnrtOptConfig *c, double lr, int64_t t, NnrtDtype dt,
                        NnrtDevPtr param, NnrtDevPtr grad, NnrtDevPtr s0, NnrtDevPtr s1, NnrtDevPtr s2,
                        int64_t n, NnrtDevPtr dyn);
void nnrt_cuda_opt_hyper(const NnrtOptConfig *c, double lr, int64_t t, double out[3]);
/* Gradient-norm clipping before the step (p->clip_norm > 0; optim.c):
 * the generated nnc_sqsum/nnc_clip/nnc_scale over every gradient, on the
 * stream (so a CUDA graph captures it). */
void nnrt_cuda_clip(const NnrtProgram *p);

/* CUDA graphs (train.c): each of NNRT_CUDA_STAGES staging areas has its
 * own captured step (its copies read that area's pinned host memory). */
#define NNRT_CUDA_STAGES 3
bool nnrt_cuda_graphs_usable(int which); /* driver has them, no host steps, not NNRT_CUDA_GRAPHS=0 */
NnrtDevPtr nnrt_cuda_hyper(int stage, int grad); /* 3 doubles on the device */
bool nnrt_cuda_graph_ready(int stage);
void nnrt_cuda_capture_begin(void);
int nnrt_cuda_capture_end(int stage); /* 0: instantiated; -1: warned, run uncaptured */
void nnrt_cuda_graph_launch(int stage);
/* An event per stage: record it on the stream, or wait for it. */
void nnrt_cuda_record(int stage, bool wait);
int64_t nnrt_cuda_launches(void); /* kernel launches and GEMM calls so far */
/* acc[0] += loss * bs, acc[1] += correct, on the stream. */
void nnrt_cuda_accumulate(int loss_slot, int correct_slot, int64_t bs);
void nnrt_cuda_read_acc(double acc[2]); /* waits; then zeroes the sums */
void nnrt_cuda_sync(void);
/* Page-lock host memory for asynchronous copies (best effort). */
int nnrt_cuda_pin(void *host, size_t bytes); /* 0: locked */
void nnrt_cuda_unpin(void *host);
/* An event after the copies just queued, and waiting for it. */
void nnrt_cuda_mark_copies(void);
void nnrt_cuda_wait_copies(void);
const char *nnrt_cuda_device_name(void);

#endif
