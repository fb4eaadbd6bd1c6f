/*
 * internal.h — declarations shared between libnnrt's own files; not part of
 * the public API in include/nnrt.h.
 *
 * Error convention: functions that read files return 0 on success and -1 on
 * failure, writing a one-line message into err (at most errlen bytes)
 * that names the file and, for malformed content, the byte offset, e.g.
 *   "data/train.idx.gz: byte 16: truncated: expected 47040000 bytes of pixels, file has 1200"
 * They never read out of bounds, never abort, and free what they allocated
 * on failure.  All allocations go through nnrt_alloc.
 */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H

#include "nnrt.h"
#include "files.h"
#include <stdbool.h>
#include <stdio.h>

size_t nnrt_dtype_size(NnrtDtype d);
const char *nnrt_dtype_name(NnrtDtype d); /* "F32", "F64", "I32", "U8" (safetensors names) */

/* A dense row-major array in memory (data owned, freed with nnrt_array_free). */
typedef struct NnrtArray {
  NnrtDtype dtype;
  int rank;
  int64_t dims[NNRT_MAX_RANK];
  void *data;
} NnrtArray;
int64_t nnrt_array_count(const NnrtArray *a); /* product of dims */
void nnrt_array_free(NnrtArray *a);
/* Bytes of a dense dtype array of these dims into *bytes: -1 if the rank is
 * outside 0..NNRT_MAX_RANK, a dim is negative, the product overflows or the
 * total exceeds cap (the loaders' guard against absurd headers).  The
 * product of the non-zero dims is held to cap too, so (5e18, 3, 0) fails. */
int nnrt_shape_bytes(NnrtDtype d, int rank, const int64_t *dims, uint64_t cap,
                     uint64_t *bytes);

/* Each loader's core also runs on a memory buffer (fuzzers, tests); name
 * stands for the file in messages.  Same contract as the path versions. */
int nnrt_parse_idx_buffer(const void *buf, size_t len, const char *name,
                          NnrtArray *out, char *err, size_t errlen);
int nnrt_parse_csv_buffer(const char *buf, size_t len, const char *name, bool header,
                          int label_col, NnrtArray *out, NnrtArray *labels,
                          char *err, size_t errlen);
int nnrt_parse_npy_buffer(const void *buf, size_t len, const char *name,
                          NnrtArray *out, char *err, size_t errlen);

/* ---- data/idx.c: IDX files, gzipped or plain (detected by magic) ------
 * u8 data stays U8; i8, i16, i32 become I32; f32/f64 keep their type. */
int nnrt_load_idx(const char *path, NnrtArray *out, char *err, size_t errlen);
/* data/idx_cache.c: the array a gzipped IDX file (stat st) gave, kept for
 * the next run: get is true on a hit (out filled); put is best-effort. */
struct stat;
bool nnrt_idx_cache_get(const char *path, const struct stat *st, NnrtArray *out);
void nnrt_idx_cache_put(const char *path, const struct stat *st, const NnrtArray *a);

/* ---- data/csv.c: numeric CSV, optional header line.  The result is F64
 * of shape (rows, cols).  label_col >= 0 splits that column off into
 * *labels (I32, shape (rows)); pass -1 to keep all columns. */
int nnrt_load_csv(const char *path, bool header, int label_col, NnrtArray *out,
                  NnrtArray *labels, char *err, size_t errlen);

/* ---- data/npy.c: NumPy .npy v1/v2/v3, little-endian f4 f8 u1 i8 i4, C order.
 * i8 (int64) is narrowed to I32 with a range check. */
int nnrt_load_npy(const char *path, NnrtArray *out, char *err, size_t errlen);

/* ---- data/graph.c: an undirected graph's edge list ("u,v" lines, node ids
 * 0..n-1, optional header).  Self-loops, duplicate edges (either direction)
 * and edges to missing nodes are errors (PATH:LINE:COL).  CSR of A, both
 * directions, rows sorted: row r's neighbours are col[rowptr[r]..rowptr[r+1]). */
typedef struct NnrtGraph {
  int64_t n, nedges; /* nodes; undirected edges (the CSR has 2 * nedges) */
  int64_t *rowptr;   /* n + 1 */
  int32_t *col;
} NnrtGraph;
int nnrt_parse_graph_buffer(const char *buf, size_t len, const char *name, int64_t n, NnrtGraph *g,
                            char *err, size_t errlen);
int nnrt_load_graph(const char *path, int64_t n, NnrtGraph *g, char *err, size_t errlen);
void nnrt_graph_free(NnrtGraph *g);
/* The dense adjacency A as F32 (n, n); too large (> 16 GiB) is an error. */
int nnrt_graph_dense(const NnrtGraph *g, NnrtArray *out, char *err, size_t errlen);
/* The matrix of a graph(...) field of form NNRT_GRAPH_* as one sample:
 * A or (GCN) D^-1/2 (A + I) D^-1/2, its values formed in double as
 * 1/sqrt(deg i + 1) · 1/sqrt(deg j + 1) and rounded once; dense (1, n, n),
 * or (CSR) an NnrtCsr header with its arrays after it in one block, shaped
 * (1, NNRT_CSR_BYTES / value size) so that gathering copies the header. */
int nnrt_graph_matrix(const NnrtGraph *g, int form, NnrtArray *out, char *err, size_t errlen);
/* The spectral view: the normalised Laplacian L = I - D^-1/2 A D^-1/2 (an
 * isolated node's row and column are those of I) and its eigenpairs by
 * LAPACK's dsyevd: vals[n] ascending, vecs[n * n] row-major with
 * eigenvector k in column k (vecs[i * n + k]), each of unit length and
 * signed so its largest-magnitude entry is positive. */
int nnrt_graph_spectral(const NnrtGraph *g, double *vals, double *vecs, char *err, size_t errlen);
/* n labels (I32/U8/F32/F64, integral) each in 0..classes-1; name: the file. */
int nnrt_graph_check_labels(const NnrtArray *y, int64_t n, int64_t classes, const char *name, char *err,
                            size_t errlen);
/* train/val/test masks (NULL: absent) of n entries 0 or 1; a node in two
 * masks is an error naming the row, node and both files. */
int nnrt_graph_check_masks(const NnrtArray *const masks[3], const char *const names[3], int64_t n,
                           char *err, size_t errlen);

/* ---- data/text.c: text corpora (the text(...) data source) -----------
 * A vocabulary: n distinct tokens in id order (characters by code point,
 * words bytewise), each NUL-terminated in blob at off[id]. */
struct NnrtVocab {
  bool words;
  int64_t n;
  char *blob;    /* bytes bytes */
  size_t bytes;
  int64_t *off;
  uint32_t *cps; /* characters: the code point of each id; NULL for words */
};
/* Read a whole text file (at most 1 GiB; NUL-terminated copy in *buf):
 * missing, empty, binary (a NUL byte) or invalid UTF-8 is an error naming
 * the file and the byte offset. */
int nnrt_read_text(const char *path, char **buf, size_t *len, char *err, size_t errlen);
/* A whole regular file of at most cap bytes into a NUL-terminated buffer
 * (nnrt_free it); what names the kind of file in the messages ("CSV"). */
int nnrt_read_file(const char *path, uint64_t cap, const char *what, char **buf, size_t *len, char *err,
                   size_t errlen);
int nnrt_text_check(const char *buf, size_t len, const char *name, char *err, size_t errlen);
/* The vocabulary of buf; more than cap distinct tokens is an error. */
int nnrt_vocab_build(const char *buf, size_t len, const char *name, bool words, int64_t cap,
                     NnrtVocab **out, char *err, size_t errlen);
void nnrt_vocab_free(NnrtVocab *v);
/* buf as token ids of v (*ids owned by the caller); a token v lacks is an
 * error naming the file (name), the byte offset and vocab_of (the file the
 * vocabulary came from; NULL: not named). */
int nnrt_text_ids(const NnrtVocab *v, const char *buf, size_t len, const char *name, const char *vocab_of,
                  int32_t **ids, int64_t *n, char *err, size_t errlen);
/* Windows of len ids: sample i is ids[i*stride + shift, ... + len), I32
 * (count, len), count = (n - reach) / stride + 1 where reach >= len + shift
 * is the longest len + shift of the fields reading the same file (so they
 * have the same count); reach > n is an error naming the file. */
int nnrt_text_windows(const int32_t *ids, int64_t n, int64_t len, int64_t shift, int64_t stride,
                      int64_t reach, const char *name, bool words, NnrtArray *out, char *err,
                      size_t errlen);
/* The one-string form kept in a checkpoint ("vocab" metadata): characters
 * concatenated, words joined by single spaces; and back, checked. */
char *nnrt_vocab_string(const NnrtVocab *v);
int nnrt_vocab_parse(const char *s, bool words, const char *name, NnrtVocab **out, char *err,
                     size_t errlen);
bool nnrt_vocab_equal(const NnrtVocab *a, const NnrtVocab *b);
size_t nnrt_utf8_put(char *to, uint32_t cp); /* 1-4 bytes, no NUL */
/* The id of token s[0..n) (one character's UTF-8, or one word), or -1. */
int64_t nnrt_vocab_find(const NnrtVocab *v, const char *s, size_t n);

/* ---- data/mlm.c: BERT pretraining samples (the mlm(...) data source) ---- */

enum { MLM_PAD, MLM_CLS, MLM_SEP, MLM_MASK, MLM_UNK, MLM_SPECIALS }; /* ids 0-4 */

typedef struct NnrtMlmConfig {
  int64_t len;    /* tokens per sample, T */
  double mask;    /* the fraction of sentence tokens chosen for the masked LM */
  bool pairs;     /* [CLS] a [SEP] b [SEP], else [CLS] a [SEP] */
  int64_t copies; /* passes over the documents, each with new partners and masks */
  uint64_t seed;
} NnrtMlmConfig;

/* n samples of len positions (row-major [n, len], next [n]). */
typedef struct NnrtMlmSet {
  int64_t n, len;
  int32_t *ids, *segments, *target, *next;
  float *keep, *weight;
} NnrtMlmSet;

/* The vocabulary of the sentences of a document file (cap counts the
 * MLM_SPECIALS special tokens, which come first in the ids). */
int nnrt_mlm_vocab(const char *buf, size_t len, const char *name, bool words, int64_t cap, NnrtVocab **out,
                   char *err, size_t errlen);
/* The samples of a document file with vocabulary v (see mlm.c). */
int nnrt_mlm_build(const char *buf, size_t len, const char *name, const NnrtVocab *v, const NnrtMlmConfig *cfg,
                   NnrtMlmSet *out, char *err, size_t errlen);
void nnrt_mlm_free(NnrtMlmSet *s);

/* ---- ckpt.c: safetensors checkpoints --------------------------------- */

typedef struct NnrtNamedTensor {
  const char *name;
  NnrtDtype dtype;
  int rank;
  int64_t dims[NNRT_MAX_RANK];
  void *data; /* nnrt_dtype_size(dtype) * product(dims) bytes */
} NnrtNamedTensor;

typedef struct NnrtKV { const char *key; const char *value; } NnrtKV;

/* Write atomically: PATH.tmp, fsync, rename, fsync the directory.  On any
 * failure the previous file at path is untouched. metadata goes into the
 * "__metadata__" object (string values only, as safetensors requires). */
int nnrt_ckpt_save(const char *path, const NnrtNamedTensor *ts, int n,
                   const NnrtKV *meta, int nmeta, char *err, size_t errlen);

typedef struct NnrtCkpt NnrtCkpt; /* a loaded checkpoint, opaque */
int nnrt_ckpt_load(const char *path, NnrtCkpt **out, char *err, size_t errlen);
int nnrt_ckpt_parse_buffer(const void *buf, size_t len, const char *name,
                           NnrtCkpt **out, char *err, size_t errlen);
const NnrtNamedTensor *nnrt_ckpt_find(const NnrtCkpt *c, const char *name);
const char *nnrt_ckpt_meta(const NnrtCkpt *c, const char *key); /* NULL if absent */
int nnrt_ckpt_count(const NnrtCkpt *c);
const NnrtNamedTensor *nnrt_ckpt_at(const NnrtCkpt *c, int i);
void nnrt_ckpt_free(NnrtCkpt *c);

/* ---- optim.c ---------------------------------------------------------- */

typedef enum {
  NNRT_OPT_SGD, NNRT_OPT_MOMENTUM, NNRT_OPT_NESTEROV, NNRT_OPT_ADAGRAD,
  NNRT_OPT_ADADELTA, NNRT_OPT_RMSPROP, NNRT_OPT_ADAM, NNRT_OPT_ADAMW,
} NnrtOptKind;

typedef struct NnrtOptConfig {
  NnrtOptKind kind;
  double lr, momentum, beta1, beta2, eps, rho, weight_decay;
  double dampening, lr_decay, initial_accumulator; /* sgd/momentum; adagrad's two */
  bool amsgrad, centered;                          /* adam/adamw; rmsprop */
  bool lookahead; /* nesterov in the lecture's form: θ kept, gradient at θ − μv */
} NnrtOptConfig;

/* The rule the step runs (the generated kernel's `kind`): the NnrtOptKind,
 * or NNRT_RULE_AMSGRAD (adam/adamw with amsgrad) or NNRT_RULE_CENTERED
 * (centered rmsprop) or NNRT_RULE_LOOKAHEAD (nesterov, lookahead = 1);
 * NNRT_RULE_AHEAD is not a step: it writes the look-ahead point θ − μv into
 * the second state pointer (nnrt_opt_ahead). */
enum { NNRT_RULE_AMSGRAD = 8, NNRT_RULE_CENTERED = 9, NNRT_RULE_LOOKAHEAD = 10, NNRT_RULE_AHEAD = 11 };
int nnrt_opt_rule(const NnrtOptConfig *c);

/* The scalars of one step of the generated optimizer (NnrtOptKernel):
 * lr, l2, wd, mu, eps, rho, beta1, beta2 and Adam's bias corrections. */
void nnrt_opt_args(const NnrtOptConfig *c, double lr, int64_t t, double h[10]);
/* One step of the generated kernel k over n elements (st: the state arrays). */
void nnrt_opt_run(NnrtOptKernel k, const NnrtOptConfig *c, double lr, int64_t t, void *p, const void *g,
                  void **st, int64_t n);

/* Nesterov's look-ahead form: ahead = θ − μ·v (p: θ, st[0]: v), where the
 * train kernel is evaluated before the step (the generated kernel k, rule
 * NNRT_RULE_AHEAD, or its C reference when k is null). */
void nnrt_opt_ahead(NnrtOptKernel k, const NnrtOptConfig *c, bool f64, void *p, void **st, void *ahead,
                    int64_t n);

/* Gradient-norm clipping, the C reference of the generated kernels
 * (nnrt_clip_kernels), in three steps as they are: add the squares of one
 * gradient of n elements (double if f64, else float) to the partial sums
 * part[NNRT_CLIP_PARTS]; the factor from them (max_norm / (norm + 1e-6)
 * above max_norm, else 1; part is zeroed again); scale one gradient. */
void nnrt_clip_sqsum_ref(const void *grad, int64_t n, bool f64, double *part);
double nnrt_clip_factor_ref(double *part, double max_norm);
void nnrt_clip_scale_ref(void *grad, int64_t n, bool f64, double scale);

/* Parse name + keyword arguments; returns -1 and a message on an unknown
 * name or key. */
int nnrt_opt_config(NnrtOptConfig *c, const char *name, int nkw,
                    const char *const *keys, const double *vals,
                    char *err, size_t errlen);
const char *nnrt_opt_name(NnrtOptKind k); /* "sgd", "adam", ... */
/* Number of state buffers (each the size of the parameter) it keeps. */
int nnrt_opt_nstate(const NnrtOptConfig *c);
/* The state arrays' value before the first step (adagrad's
 * initial_accumulator_value for its sum, else 0). */
void nnrt_opt_state_init(const NnrtOptConfig *c, bool f64, void **st, int64_t n);
/* One update of n elements; state holds nnrt_opt_nstate() arrays of n, zero
 * at start; t is the 1-based step count (Adam's bias correction); lr is the
 * scheduled rate for this step. */
void nnrt_opt_step_f32(const NnrtOptConfig *c, double lr, int64_t t, float *param,
                       const float *grad, float **state, int64_t n);
void nnrt_opt_step_f64(const NnrtOptConfig *c, double lr, int64_t t, double *param,
                       const double *grad, double **state, int64_t n);

/* team.c: the runtime's worker threads.  nnrt_team_run calls fn(ctx, i)
 * for every i in [0, chunks), on the calling thread and any awake worker,
 * and returns when all are done; chunks must be independent.  Nested or
 * concurrent calls run on the calling thread, in order. */
typedef void (*NnrtTaskFn)(void *ctx, int64_t chunk);
void nnrt_team_set(int threads); /* threads in all, the caller included */
int nnrt_team_size(void);
void nnrt_team_run(NnrtTaskFn fn, void *ctx, int64_t chunks);

#endif
