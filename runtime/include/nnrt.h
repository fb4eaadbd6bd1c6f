/*
 * nnrt.h — the public C API of libnnrt, the runtime every nnc executable
 * links against.
 *
 * An executable made by nnc contains only generated code: a setup function
 * that *describes* the program to the runtime (slots, initialisers, data,
 * optimizer, kernels) and the kernels themselves.  Its main() is
 *
 *     int main(int argc, char **argv) { return nnrt_main(argc, argv, nnc_setup); }
 *
 * The runtime owns everything else: memory, data loading, batching,
 * shuffling, the optimizer step, checkpoints, progress and the CLI
 * (`train`, `eval`, `info`, `gradcheck`).
 *
 * Slots.  Every tensor a kernel touches is a *slot*, numbered densely from 0
 * by the compiler.  A kernel receives `void **slots` (slot i's base pointer
 * at index i) plus a scratch block for its temporaries.  Dims equal to
 * NNRT_BATCH stand for the batch size of the current call.
 *
 * Invariants: all slot memory is allocated by the runtime through
 * nnrt_alloc; kernels never allocate.  Nothing here is thread-unsafe except
 * the program description, which is built once by setup.
 */
#ifndef NNRT_H
#define NNRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NNRT_BATCH (-1) /* a dim that is the batch size of the call */
#define NNRT_MAX_RANK 8

typedef enum { NNRT_F32 = 0, NNRT_F64 = 1, NNRT_I32 = 2, NNRT_U8 = 3 } NnrtDtype;

typedef enum {
  NNRT_SLOT_PARAM = 0,  /* trainable parameter, initialised, saved, updated */
  NNRT_SLOT_GRAD = 1,   /* gradient of a param, written by a train kernel */
  NNRT_SLOT_INPUT = 2,  /* one batch of a data field, filled by the runtime */
  NNRT_SLOT_OUTPUT = 3, /* a scalar or tensor result read by the runtime */
  NNRT_SLOT_STATE = 4,  /* non-trainable state (e.g. running mean), saved */
} NnrtRole;

/* What an OUTPUT slot means to the runtime. */
#define NNRT_OUT_LOSS "loss"       /* scalar: mean loss over the batch */
#define NNRT_OUT_CORRECT "correct" /* scalar: number of correct predictions */
#define NNRT_OUT_METRIC "metric"   /* scalar: a train block's `metric NAME = ...;`, a batch mean */
#define NNRT_MAX_METRICS 8

typedef struct NnrtProgram NnrtProgram;

/* A generated kernel: ctx is the runtime context (for RNG and, later,
 * thread pools), slots the slot table, scratch a block of at least
 * scratch_bytes(batch) bytes, aligned to 64. */
typedef void (*NnrtKernel)(void *ctx, void **slots, char *scratch, int64_t batch);
typedef int64_t (*NnrtScratchFn)(int64_t batch);
typedef void (*NnrtSetupFn)(NnrtProgram *p);

/* ---- Called by generated setup code (nnc_setup) ---------------------- */

void nnrt_program(NnrtProgram *p, const char *name, const char *source);
/* Declare slot `slot` (slots must be declared 0,1,2,... in order). */
void nnrt_slot(NnrtProgram *p, int slot, NnrtRole role, const char *name,
               NnrtDtype dtype, int rank, const int64_t *dims);
/* Initialiser of a PARAM (or STATE) slot.  init is one of: zeros ones
 * constant(a0) normal(a0=mean,a1=std) uniform(a0=lo,a1=hi) xavier_uniform
 * xavier_normal he_uniform he_normal (aliases: xavier=xavier_uniform,
 * glorot*, kaiming*).  fan_in/fan_out are computed by the compiler. */
void nnrt_init(NnrtProgram *p, int slot, const char *init, int nargs,
               const double *args, int64_t fan_in, int64_t fan_out);
/* grad_slot holds d loss / d param_slot after a train kernel; param_slot
 * is updated by optimizer opt (see nnrt_optimizer). */
void nnrt_grad(NnrtProgram *p, int grad_slot, int param_slot, int opt);
/* INPUT slot `slot` receives batches of data field `field`. */
void nnrt_input(NnrtProgram *p, int slot, const char *field);
/* INPUT slot `slot` holds class labels in [0, classes) (it feeds
 * onehot(y, classes)): every value is checked when the data is loaded, and
 * one outside names the file, the sample and the value (a label of 10 for
 * 10 classes would otherwise train against an all-zero one-hot). */
void nnrt_input_classes(NnrtProgram *p, int slot, int64_t classes);
/* OUTPUT slot `slot` means `what` (NNRT_OUT_LOSS, NNRT_OUT_CORRECT, ...). */
void nnrt_output(NnrtProgram *p, int slot, const char *what);

/* Data.  split is "train" or "test".  A field's per-sample shape is given
 * by the INPUT slot it feeds (dims after the batch dim).  IDX files may be
 * gzipped; u8 images are kept as bytes and converted (times scale) only
 * when a batch is gathered.  scale multiplies values gathered into F32/F64
 * slots (0 means 1); I32 slots get the raw values, which must be integers.
 * A path ending in ".npy" is read as NumPy, one ending in ".csv" as CSV
 * (all columns; a non-numeric first line is a header). */
void nnrt_data_idx(NnrtProgram *p, const char *field, const char *split,
                   const char *path, double scale);
/* Columns [col_begin, col_end) of a numeric CSV file (col_end < 0: to the
 * last column); header != 0 skips the first line. */
void nnrt_data_csv(NnrtProgram *p, const char *field, const char *split,
                   const char *path, int header, int64_t col_begin,
                   int64_t col_end, double scale);
/* The adjacency A (no self-loops) of an undirected graph of n nodes from
 * its edge list ("u,v" node ids 0..n-1 per line, optional header): one
 * sample of shape (n, n), or with NNRT_GRAPH_GCN the GCN's normalised
 * D^-1/2 (A + I) D^-1/2 (degrees counted with the self-loop).  Dense F32
 * (F64 with NNRT_GRAPH_F64), or with NNRT_GRAPH_CSR an NnrtCsr (below) of
 * F32/F64 values.  Self-loops, duplicate edges and edges to a missing node
 * are errors naming the file and line (runtime/data/graph.c). */
enum { NNRT_GRAPH_GCN = 1, NNRT_GRAPH_CSR = 2, NNRT_GRAPH_F64 = 4 };
void nnrt_data_graph(NnrtProgram *p, const char *field, const char *split, const char *path, int64_t n, int form);

/* A sparse n x n matrix in CSR form, as a csr[N, N] INPUT slot holds it:
 * this header (NNRT_CSR_BYTES per sample), pointing into the split's data.
 * Row i's entries are col[rowptr[i] .. rowptr[i+1]), columns ascending,
 * values val (float or double as the slot).  t_* is the transpose's CSR:
 * the same arrays when the matrix is symmetric (the loader checks). */
typedef struct NnrtCsr {
  int64_t n, nnz;
  const int64_t *rowptr; /* n + 1 */
  const int32_t *col;    /* nnz */
  const void *val;       /* nnz */
  const int64_t *t_rowptr;
  const int32_t *t_col;
  const void *t_val;
} NnrtCsr;
#define NNRT_CSR_BYTES 64
/* y = A h (transpose 0) or Aᵀ h (1) for each of the `batches` matrices
 * h (n, f) (row-major, one after the other); y like h.  Rows are split
 * on the worker team by their count alone, each row summed in the order
 * of its columns: the same bits on any thread count (runtime/cpu/spmm.c). */
void nnrt_spmm_f32(float *y, const NnrtCsr *a, const float *h, int64_t batches, int64_t n, int64_t f,
                   int64_t transpose);
void nnrt_spmm_f64(double *y, const NnrtCsr *a, const double *h, int64_t batches, int64_t n, int64_t f,
                   int64_t transpose);
/* An inline table: n samples of per_sample values each, row-major. */
void nnrt_data_table(NnrtProgram *p, const char *field, const char *split,
                     int64_t n, int64_t per_sample, const double *values);
/* A text corpus (the text(...) source): the file's tokens (UTF-8 code
 * points, or with words != 0 whitespace-separated words) as ids of the
 * run's vocabulary, cut into windows of len tokens: sample i is tokens
 * [i*stride + shift, i*stride + shift + len) (stride 0: len).  The fields
 * of a split reading one file share one load and have the same sample
 * count: that of the longest len + shift among them.  The vocabulary (at
 * most vocab_cap tokens) comes from the train split's text file; the test
 * split is encoded with it.  The INPUT slot must be I32 of shape [B, len]. */
void nnrt_data_text(NnrtProgram *p, const char *field, const char *split,
                    const char *path, int64_t vocab_cap, int64_t len, int64_t shift,
                    int64_t stride, int words);

/* BERT pretraining samples (the mlm(...) data source, data/mlm.c): the
 * sentences of a file of documents (separated by lines holding a lone "%")
 * as `[CLS] a [SEP] b [SEP]` pairs (pairs != 0) or `[CLS] a [SEP]`, padded
 * to len tokens, with a fraction mask of the sentence tokens chosen for
 * the masked LM, copies passes over the documents; the field gets one
 * part: ids and segments and target I32 [B, len], keep and weight F32
 * [B, len], next I32 [B].  The vocabulary (vocab_cap ids with the 5
 * special tokens) comes from the train split's file. */
typedef enum { MLM_PART_IDS, MLM_PART_SEGMENTS, MLM_PART_KEEP, MLM_PART_TARGET, MLM_PART_WEIGHT,
               MLM_PART_NEXT } NnrtMlmPart;
void nnrt_data_mlm(NnrtProgram *p, const char *field, const char *split, const char *path,
                   int64_t vocab_cap, int64_t len, double mask, int pairs, int64_t copies, int words,
                   int part);

/* Standardise data field `field` per feature: (x - mean) / std, with mean
 * and std computed in double on the training split (after the validation
 * hold-out) and applied to every split.  Call after the field's data. */
void nnrt_data_normalize(NnrtProgram *p, const char *field);
/* The data of field `field` in split `split` is a graph's node mask
 * (mask = 1): every entry 0 or 1, and no node in the masks of two splits
 * (runtime/data/graph.c, nnrt_graph_check_masks).  Call after the data. */
void nnrt_data_mask(NnrtProgram *p, const char *field, const char *split);

/* Training configuration from the `train` block; CLI flags override. */
void nnrt_train_config(NnrtProgram *p, int64_t epochs, int64_t batch, uint64_t seed);
/* Hold out `fraction` (0 <= fraction < 1; 0: none) of the train split as a
 * validation split, drawn once from the seed before training. */
void nnrt_validation(NnrtProgram *p, double fraction);
/* Data augmentation of image inputs (INPUT slots whose per-sample shape is
 * [C, H, W] or [H, W]) in training batches: keys crop (zero-pad by that many
 * pixels, then a random crop back to H x W), flip (1: horizontal flip with
 * probability 1/2), rotate (a random rotation within +-that many degrees,
 * bilinear, zeros outside).  Draws come from the training generator, so a
 * seed gives the same augmented batches.  `which` is reserved (0). */
void nnrt_augment(NnrtProgram *p, int which, const char *name, int nkw,
                  const char *const *keys, const double *vals);
/* Stop training after `patience` epochs (>= 0; 0: off) in which the
 * validation loss did not improve, and restore the best epoch's weights. */
void nnrt_early_stopping(NnrtProgram *p, int64_t patience);
/* Optimizer number `opt` (0, 1, ...): name in sgd momentum nesterov adagrad
 * adadelta rmsprop adam adamw; keys such as lr momentum beta1 beta2 eps rho
 * weight_decay nesterov. */
void nnrt_optimizer(NnrtProgram *p, int opt, const char *name, int nkw,
                    const char *const *keys, const double *vals);
/* Learning-rate schedule of optimizer opt: constant step exponential cosine
 * warmup (keys: step_size gamma warmup_epochs min_lr ...). */
void nnrt_schedule(NnrtProgram *p, int opt, const char *name, int nkw,
                   const char *const *keys, const double *vals);

/* The kernels.  train computes outputs and grads; eval only outputs, in
 * inference mode. */
void nnrt_kernels(NnrtProgram *p, NnrtKernel train, NnrtScratchFn train_scratch,
                  NnrtKernel eval, NnrtScratchFn eval_scratch);

/* A step of several objectives (`minimize L wrt P using OPT;` more than
 * once): objective `idx` (0, 1, ... < NNRT_MAX_OBJECTIVES, declared in order)
 * is named `name`, its train kernel (objective 0's is the train kernel)
 * writes its loss to OUTPUT slot loss_slot and the gradients of the params
 * that optimizer idx steps (nnrt_grad).  Every batch runs the kernels in
 * order, each followed by its optimizer's step. */
#define NNRT_MAX_OBJECTIVES 8
void nnrt_objective(NnrtProgram *p, int idx, const char *name, NnrtKernel train,
                    NnrtScratchFn scratch, int loss_slot);
/* Objective idx belongs to group `group` (a `for` of minimize statements:
 * consecutive objectives, one group, the same reps), run reps times per
 * step, each time on the next batch (LANGUAGE.md §8.4).  Without this call
 * an objective is its own group, run once. */
void nnrt_objective_repeat(NnrtProgram *p, int idx, int group, int64_t reps);

/* The optimizer step, generated by nnc for the parameter's precision
 * (compiler/codegen/optim.c): p, g, s0, s1, n, the rule (NnrtOptKind) and
 * its scalars lr, l2, wd, mu, eps, rho, beta1, beta2, ic1, ic2 (from
 * nnrt_opt_args), then NULL. */
typedef void (*NnrtOptKernel)(void *p, const void *g, void *s0, void *s1, void *s2, int64_t n, int32_t kind, double lr,
                              double l2, double wd, double mu, double eps, double rho, double b1, double b2,
                              double ic1, double ic2, const double *dyn);
void nnrt_opt_kernels(NnrtProgram *p, NnrtOptKernel f32, NnrtOptKernel f64);

/* Gradient-norm clipping (`clip_norm = X;`, as PyTorch's clip_grad_norm_):
 * before each step, when the L2 norm over every gradient the step updates
 * exceeds X (> 0), every gradient is scaled by X / (norm + 1e-6).  The sum
 * of squares is formed in double as NNRT_CLIP_PARTS partial sums (element
 * i goes to partial i mod NNRT_CLIP_PARTS, gradients in order, elements
 * ascending), then added in order: one order on every device. */
#define NNRT_CLIP_PARTS 256
void nnrt_clip_norm(NnrtProgram *p, double max_norm);
/* The clipping kernels nnc generates (compiler/codegen/optim.c):
 * sqsum(g, n, part), clip(part, max_norm, scale), scale(g, n, scale). */
typedef void (*NnrtSqsumKernel)(const void *g, int64_t n, double *part);
typedef void (*NnrtClipKernel)(double *part, double max_norm, double *scale);
typedef void (*NnrtScaleKernel)(void *g, int64_t n, const double *scale);
void nnrt_clip_kernels(NnrtProgram *p, NnrtSqsumKernel sq32, NnrtSqsumKernel sq64, NnrtClipKernel clip,
                       NnrtScaleKernel sc32, NnrtScaleKernel sc64);

/* The GPU code of `nnc build --cuda`: the PTX module and the train and eval
 * launch schedules (runtime/cuda/schedule.h); used by --device cuda. */
void nnrt_cuda_program(NnrtProgram *p, const char *ptx, const int64_t *train,
                       const int64_t *eval);

/* `--check-numerics` site number `site`: the .nn location of the expression
 * an op came from ("x.nn:12:9"), the op ("log") and its shape ("f32[B, 1]").
 * Sites are declared 0, 1, 2, ... in order. */
void nnrt_site(NnrtProgram *p, int site, const char *where, const char *op,
               const char *shape);

/* One row of `OUT info`: a layer (or op) name, its kind, its output shape
 * as text (e.g. "[B, 256]"), its parameter count and forward FLOPs per
 * sample (0 if unknown). */
void nnrt_info_row(NnrtProgram *p, const char *name, const char *kind,
                   const char *shape, int64_t params, int64_t flops);

/* `OUT info`'s totals: the FLOPs per sample of one inference-kernel call
 * (the forward pass and the loss) and of one training step (forward and
 * backward, without the optimizer's update), at the program's batch size,
 * as the compiler counts them (compiler/graph.c kernel_flops). */
void nnrt_info_flops(NnrtProgram *p, int64_t eval_flops, int64_t train_flops);

/* The CLI: train / eval / info / gradcheck.  Returns the process exit code. */
int nnrt_main(int argc, char **argv, NnrtSetupFn setup);

/* ---- Called by generated kernels ------------------------------------- */

/* `nnc build --profile`: the kernel starts the work item named `what` (a
 * constant string; NULL: the kernel ends) — runtime/profile.c. */
void nnrt_prof(const char *what);

/* Row-major C = alpha * op(A) * op(B) + beta * C, op = transpose if t*. */
void nnrt_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb,
                float beta, float *c, int64_t ldc);
/* C = op(A)·op(B) (ldc = n), then C[i][j] += bias[j] and, with relu,
 * C[i][j] = C[i][j] > 0 ? C[i][j] : 0 — each part of the product as soon
 * as it is done, on the thread that computed it (a GEMM's epilogue: the
 * generated code's bias add and relu after a product, codegen/llvm.c;
 * the same bits as the product and then those loops). */
void nnrt_sgemm_bias(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float *c, const float *bias, int relu);
void nnrt_dgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb,
                double beta, double *c, int64_t ldc);
/* A strided batch of n1 x n2 such products (beta = 0): product i = i1·n2 + i2
 * reads A at a + i1*sa + i2*sa2, B at b + i1*sb + i2*sb2 (strides 0 repeat
 * one matrix) and writes C at c + i1*sc + i2*sc2 with leading dimension
 * ldc (dense: ldc = n, sc2 = m*n, sc = n2*m*n).  Each product is as above. */
void nnrt_sgemm_batch(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t n1, int64_t n2,
                      const float *a, int64_t lda, int64_t sa, int64_t sa2, const float *b,
                      int64_t ldb, int64_t sb, int64_t sb2, float *c, int64_t ldc, int64_t sc,
                      int64_t sc2);
void nnrt_dgemm_batch(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t n1, int64_t n2,
                      const double *a, int64_t lda, int64_t sa, int64_t sa2, const double *b,
                      int64_t ldb, int64_t sb, int64_t sb2, double *c, int64_t ldc, int64_t sc,
                      int64_t sc2);
/* 2-D convolution geometry, NCHW activations and OIHW weights
 * [o, c/groups, kh, kw]: oh = (h + 2ph - dh(kh-1) - 1)/sh + 1, likewise ow.
 * The three functions are the forward pass and its two adjoints; together
 * they are closed under differentiation (conv_transpose2d is bwd_data). */
typedef struct NnrtConv {
  int64_t n, c, h, w;      /* input */
  int64_t o, kh, kw;       /* filters */
  int64_t oh, ow;          /* output */
  int64_t sh, sw, ph, pw, dh, dw, groups;
} NnrtConv;
void nnrt_conv2d_f32(const NnrtConv *g, float *y, const float *x, const float *w);
void nnrt_conv2d_bwd_data_f32(const NnrtConv *g, float *dx, const float *dy, const float *w);
void nnrt_conv2d_bwd_weights_f32(const NnrtConv *g, float *dw, const float *x, const float *dy);
void nnrt_conv2d_f64(const NnrtConv *g, double *y, const double *x, const double *w);
void nnrt_conv2d_bwd_data_f64(const NnrtConv *g, double *dx, const double *dy, const double *w);
void nnrt_conv2d_bwd_weights_f64(const NnrtConv *g, double *dw, const double *x, const double *dy);

/* 2-D pooling geometry over NCHW (kernel kh x kw, stride, zero padding).
 * Indices are flat positions h*w_in + w inside one (n, c) input plane. */
typedef struct NnrtPool {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} NnrtPool;
/* y = max over each window, idx = where it was (the first maximum). */
void nnrt_maxpool2d_f32(const NnrtPool *g, float *y, int32_t *idx, const float *x);
void nnrt_maxpool2d_f64(const NnrtPool *g, double *y, int32_t *idx, const double *x);
/* Max un-pooling: out (n, c, h, w) = zeros, plus v scattered (added) at idx. */
void nnrt_unpool2d_f32(const NnrtPool *g, float *out, const float *v, const int32_t *idx);
void nnrt_unpool2d_f64(const NnrtPool *g, double *out, const double *v, const int32_t *idx);
/* Its adjoint: y (n, c, oh, ow) = x at idx. */
void nnrt_gather2d_f32(const NnrtPool *g, float *y, const float *x, const int32_t *idx);
void nnrt_gather2d_f64(const NnrtPool *g, double *y, const double *x, const int32_t *idx);
/* Average pooling (padding counts as zeros, divisor kh*kw) and its adjoint. */
void nnrt_avgpool2d_f32(const NnrtPool *g, float *y, const float *x);
void nnrt_avgpool2d_f64(const NnrtPool *g, double *y, const double *x);
void nnrt_avgpool2d_bwd_f32(const NnrtPool *g, float *dx, const float *dy);
void nnrt_avgpool2d_bwd_f64(const NnrtPool *g, double *dx, const double *dy);

/* ctx + NNRT_CTX_CHECK_NUMERICS is an int32, nonzero under --check-numerics:
 * then a kernel calls nnrt_check_finite on each float op's output, which
 * reports the first NaN/Inf against site `site` and exits with status 3. */
#define NNRT_CTX_CHECK_NUMERICS 8
/* ctx + NNRT_CTX_GEN is an int32, nonzero when the eval kernel must also
 * compute its on-demand outputs (the train block's `show` and `sample`,
 * which OUT show and OUT sample read); evaluation leaves it 0 and skips
 * the work that feeds only them (a diffusion model's sampler). */
#define NNRT_CTX_GEN 12
/* ctx + NNRT_CTX_GRADS is an int32, nonzero when a train kernel must call
 * nnrt_grad_ready(ctx, slot) once the GRAD slot `slot` holds its final
 * value (data-parallel training starts sending it then: shard.c). */
#define NNRT_CTX_GRADS 16
/* Products of fewer multiply-adds than these are a plain loop (gemm.c),
 * which the compiler also emits inline with the same order of additions
 * (codegen/llvm.c): the two must agree for the bits to. */
#define NNRT_SMALL_SGEMM 1024
#define NNRT_SMALL_DGEMM 2048
void nnrt_grad_ready(void *ctx, int32_t slot);
void nnrt_check_finite(void *ctx, const void *data, int64_t count, int32_t dtype,
                       int32_t site);
/* A uniform [0,1) draw from the run's seeded generator (dropout masks). */
double nnrt_uniform(void *ctx);
/* A standard normal draw from the same generator (reparameterisation, noise). */
double nnrt_normal(void *ctx);

/* ---- Runtime services (also used by tests) --------------------------- */

/* Every runtime allocation goes through this hook; `what` names the
 * allocation for the out-of-memory message.  Tests set a failure countdown. */
void *nnrt_alloc(size_t bytes, const char *what);
void nnrt_free(void *ptr);
void nnrt_alloc_fail_after(long n); /* n-th next allocation fails; -1 off */

/* Seeded generator (xoshiro256**-class): bit-identical streams per seed. */
typedef struct NnrtRng { uint64_t s[4]; } NnrtRng;
void nnrt_rng_seed(NnrtRng *r, uint64_t seed);
uint64_t nnrt_rng_next(NnrtRng *r);
double nnrt_rng_uniform(NnrtRng *r);            /* [0, 1) */
double nnrt_rng_normal(NnrtRng *r);             /* N(0, 1) */
void nnrt_rng_shuffle(NnrtRng *r, int64_t *idx, int64_t n);

/* ---- The vocabulary of a run with text data (data/text.c) ------------
 * Ids are 0..size-1: characters in code-point order, or words in bytewise
 * order.  A session's vocabulary (nnrt_session_vocab in program.h) is the
 * train corpus's, or the checkpoint's when no corpus was loaded. */
typedef struct NnrtVocab NnrtVocab;
int64_t nnrt_vocab_size(const NnrtVocab *v);
int nnrt_vocab_is_words(const NnrtVocab *v); /* 1: word tokens, 0: characters */
/* Token id as NUL-terminated UTF-8 (a word without its separating space);
 * NULL for an id outside 0..size-1. */
const char *nnrt_vocab_token(const NnrtVocab *v, int64_t id);
/* Encode text[0..len) (a prompt) as ids: returns the number of tokens,
 * writing the first cap of them to ids (call with cap 0 to count), or -1
 * with a one-line message in err (name: what to call the text in it) when
 * a token is not in the vocabulary or the text is not UTF-8. */
int64_t nnrt_text_encode(const NnrtVocab *v, const char *text, size_t len, const char *name,
                         const char *vocab_of, int32_t *ids, int64_t cap, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
