/*
 * program.h — the program description built by nnc_setup and the run-time
 * session built from it; shared by program.c, session.c, train.c, eval.c,
 * gradcheck.c, info.c and cli.c.  Not part of the public API.
 *
 * Invariants: a NnrtProgram is filled once by the description calls and
 * read-only afterwards; the first description error (or out-of-memory) is
 * kept in p->err and every later description call is a no-op.  A session
 * owns every byte it allocates and session_free releases all of it, on
 * success and on every error path.
 */
#ifndef NNRT_PROGRAM_H
#define NNRT_PROGRAM_H

#include "internal.h"
#include <stdbool.h>

/* ---- sched.c: learning-rate schedules, applied per epoch -------------- */

typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_EXPONENTIAL, SCHED_COSINE,
               SCHED_WARMUP, SCHED_WARMUP_COSINE } NnrtSchedKind;

typedef struct NnrtSched {
  NnrtSchedKind kind;
  double step_size, gamma, warmup_epochs, min_lr, t_max; /* t_max 0: total epochs */
} NnrtSched;

int nnrt_sched_config(NnrtSched *s, const char *name, int nkw,
                      const char *const *keys, const double *vals,
                      char *err, size_t errlen);
/* The rate for 0-based epoch `epoch` of `epochs`, from base rate lr. */
double nnrt_sched_lr(const NnrtSched *s, double lr, int64_t epoch, int64_t epochs);

/* ---- init.c ------------------------------------------------------------ */

bool nnrt_init_known(const char *name);
/* Fill n elements of data (F32 or F64) per initialiser `name`. */
int nnrt_init_fill(NnrtRng *r, const char *name, int nargs, const double *args,
                   int64_t fan_in, int64_t fan_out, NnrtDtype dtype, void *data,
                   int64_t n, char *err, size_t errlen);

/* ---- the description (program.c) -------------------------------------- */

typedef struct NnrtSlotDesc {
  NnrtRole role;
  char *name;
  NnrtDtype dtype;
  int rank;
  int64_t dims[NNRT_MAX_RANK]; /* NNRT_BATCH where the batch goes */
  char *init;                  /* PARAM/STATE initialiser, NULL = zeros */
  int ninit;
  double init_args[4];
  int64_t fan_in, fan_out;
  char *field; /* INPUT: the data field it receives */
  int64_t classes; /* INPUT: labels must lie in [0, classes); 0: not labels */
  char *what;  /* OUTPUT: "loss", "correct", ... */
} NnrtSlotDesc;

typedef struct NnrtGradDesc { int grad, param, opt; } NnrtGradDesc;

typedef enum { DATA_FILE, DATA_TABLE, DATA_CSV, DATA_TEXT, DATA_GRAPH, DATA_MLM } NnrtDataKind;

typedef struct NnrtDataDesc {
  NnrtDataKind kind;
  char *field, *split, *path;
  double scale;
  int64_t n, per;  /* DATA_TABLE */
  double *values;  /* DATA_TABLE, n*per, owned */
  bool header;     /* DATA_CSV */
  int64_t col_begin, col_end;
  bool normalize;  /* standardise the field per feature (nnrt_data_normalize) */
  bool node_mask;  /* a graph's node mask (nnrt_data_mask) */
  /* DATA_TEXT: windows of len tokens, shifted and strided; reach: the
   * longest len + shift of the split's fields reading this file */
  int64_t vocab_cap, len, shift, stride, reach; /* DATA_GRAPH: len = nodes */
  int graph_form; /* DATA_GRAPH: NNRT_GRAPH_* flags */
  bool words;
  /* DATA_MLM (also vocab_cap, len, words): which part of the samples */
  double mask;
  bool pairs;
  int64_t copies;
  int part; /* NnrtMlmPart */
} NnrtDataDesc;

typedef struct NnrtOptDesc {
  bool declared;
  NnrtOptConfig cfg;
  NnrtSched sched;
} NnrtOptDesc;

/* One objective of a step with several (nnrt_objective). */
typedef struct NnrtObjective {
  char name[64];
  NnrtKernel train;
  NnrtScratchFn scratch;
  int loss_slot;
  int group;    /* objectives of one `for` share it; else the objective's own index */
  int64_t reps; /* updates per step, each on its own batch (nnrt_objective_repeat) */
} NnrtObjective;

typedef struct NnrtSite { char *where, *op, *shape; } NnrtSite;
void nnrt_sites_free(NnrtProgram *p); /* numerics.c */

typedef struct NnrtInfoRow { char *name, *kind, *shape; int64_t params, flops; } NnrtInfoRow;

/* `augment = images(crop = c, flip = f, rotate = r);` (augment.c applies it). */
typedef struct NnrtAugment {
  bool on;
  int64_t crop;  /* zero padding, then a random crop back: offsets in [0, 2*crop] */
  bool flip;     /* horizontal flip with probability 1/2 */
  double rotate; /* a uniform angle in [-rotate, rotate] degrees */
} NnrtAugment;

struct NnrtProgram {
  char *name, *source;
  NnrtSlotDesc *slots; int nslots, cap_slots;
  NnrtGradDesc *grads; int ngrads, cap_grads;
  NnrtDataDesc *data; int ndata, cap_data;
  NnrtOptDesc *opts; int nopts, cap_opts;
  NnrtInfoRow *rows; int nrows, cap_rows;
  int64_t eval_flops, train_flops; bool has_flops; /* per sample (nnrt_info_flops) */
  int64_t epochs, batch;
  uint64_t seed;
  double valid;    /* fraction of the train split held out for validation */
  int64_t early_stop; /* patience on the validation loss, 0 = off */
  NnrtAugment augment;
  NnrtKernel train, eval;
  NnrtOptKernel opt_kernel[2]; /* the generated optimizer step, f32 and f64 (NULL: optim.c's) */
  double clip_norm;            /* gradient-norm clipping: the largest norm, 0 = off */
  NnrtSqsumKernel clip_sqsum[2]; /* ... its generated kernels, f32 and f64 (NULL: optim.c's) */
  NnrtClipKernel clip_kernel;
  NnrtScaleKernel clip_scale[2];
  NnrtScratchFn train_scratch, eval_scratch;
  NnrtObjective objs[NNRT_MAX_OBJECTIVES]; int nobjs; /* 0: one loss, the train kernel */
  NnrtSite *sites; int nsites, cap_sites; /* numerics.c: per checked op */
  bool failed;
  char err[512];
};

void nnrt_program_free(NnrtProgram *p);
int nnrt_program_find_output(const NnrtProgram *p, const char *what); /* -1 if none */
int64_t nnrt_slot_sample_count(const NnrtSlotDesc *s); /* product of non-batch dims */
bool nnrt_slot_has_batch(const NnrtSlotDesc *s);
int64_t nnrt_slot_count(const NnrtSlotDesc *s, int64_t batch);
/* A carried state (`state h: f32[B, n]`): one row per batch position, kept
 * from one training step to the next, so training batches are streams
 * (train.c), it is reset at every epoch and evaluation, and not saved. */
bool nnrt_slot_carried(const NnrtSlotDesc *s);
const char *nnrt_program_carried(const NnrtProgram *p); /* a carried state's name, or NULL */
void nnrt_format_shape(char *buf, size_t len, int rank, const int64_t *dims);

/* ---- the session (session.c) ------------------------------------------ */

/* What kernels receive as ctx.  nnrt_uniform draws from *rng. */
typedef struct NnrtCtx {
  NnrtRng *rng;
  int32_t check_numerics;   /* at NNRT_CTX_CHECK_NUMERICS: --check-numerics */
  int32_t on_demand;        /* at NNRT_CTX_GEN: compute `show` / `sample` too (show.c, sample.c) */
  int32_t grads_ready;      /* at NNRT_CTX_GRADS: call nnrt_grad_ready (shard.c) */
  const NnrtProgram *p;     /* its numerics sites */
} NnrtCtx;

typedef struct NnrtSplit {
  bool present;
  int64_t n;         /* samples */
  NnrtArray *fields; /* one per slot, indexed by slot number; data NULL if not INPUT */
  double *scale;     /* per slot */
} NnrtSplit;

#define NNRT_MAX_ONLY 32 /* --only and --rename flags, each */
#define NNRT_MAX_ONLY_STR "32"
typedef struct NnrtOptions {
  int64_t epochs, batch;     /* -1: from the program */
  uint64_t seed; bool has_seed;
  double lr;                 /* <= 0: from the program */
  double valid; bool has_valid; /* validation fraction, else the program's */
  const char *save, *resume, *load, *log, *plot;
  const char *device;        /* --device: NULL or "cpu", or "cuda" (runtime/cuda) */
  bool quiet;
  bool check_numerics;       /* check every op's output for NaN/Inf */
  int threads;               /* 0: default */
  int shards;                /* train --shards: 0: one per MPI rank (comm.c) */
  double eps, tol;           /* gradcheck, <= 0: default */
  int64_t entries;           /* gradcheck --entries: elements probed per param (-1: 30; 0: all) */
  int64_t limit;             /* train --limit: only the first N training samples (0: all) */
  int64_t early_stop; bool has_early_stop; /* train --early-stop patience (0: off), else the program's */
  bool no_augment;           /* train --no-augment: ignore the program's augmentation */
  const char *samples_dir;   /* train --samples DIR: DIR/epoch-NNN.png of `sample` after every epoch */
  int64_t count;             /* show --count: samples drawn (0: 16); predict: rows (0: all) */
  const char *out;           /* show -o: the PNG written (NULL: show.png); grads -o: the CSV; predict -o */
  const char *rows;          /* grads --rows: the parameter whose per-row norms are printed */
  int64_t len;               /* sample --len: tokens generated (0: 200) */
  double temperature;        /* sample --temperature (set to 1 by the parser's default) */
  const char *prompt;        /* sample --prompt */
  const char *init_from;     /* train --init-from: a checkpoint's tensors over the fresh init */
  const char *only[NNRT_MAX_ONLY]; int nonly;       /* --only globs on the program's names */
  const char *rename[NNRT_MAX_ONLY]; int nrename;   /* --rename FROM=TO prefix maps */
  const char *inputs[NNRT_MAX_ONLY]; int ninputs;   /* predict --input [FIELD=]FILE.npy */
} NnrtOptions;

/* A train block's `metric NAME = ...;` (session.c reads them from the
 * OUTPUT slots): a batch mean in one scalar slot, or a detector's mAP over
 * a whole split, `detection_map(...)`, from five slots of the eval kernel
 * (runtime/eval.c gathers every batch's detections, detect_eval.c scores them). */
enum { NNRT_DET_BOXES, NNRT_DET_SCORES, NNRT_DET_LABELS, NNRT_DET_GT_BOXES, NNRT_DET_GT_LABELS, NNRT_DET_NSLOTS };
typedef struct NnrtMetricDesc {
  char name[64];
  int slot;                  /* a batch mean's scalar slot; -1: a detection mAP */
  int det[NNRT_DET_NSLOTS];  /* mAP: the slots of detections and ground truth */
  int classes;               /* mAP: labels in [0, classes) */
  double iou;                /* mAP: a detection is right at IoU >= iou */
} NnrtMetricDesc;

typedef struct NnrtSession {
  NnrtProgram *p;
  const NnrtOptions *o;
  int64_t B;          /* the batch size slots are sized for */
  char *block;        /* slots and optimizer state, one allocation */
  void **slots;
  void ***opt_state;  /* per grad entry: nnrt_opt_nstate pointers, then the
                       * look-ahead point (nesterov, lookahead = 1) or NULL */
  bool opt_reference; /* NNRT_OPT_REFERENCE=1: optim.c's C loops, not the generated step */
  char *scratch;
  int64_t *perm;      /* a permutation of the train samples */
  NnrtSplit train, test, valid; /* valid: held out of the file's train split */
  double valid_fraction;
  NnrtOptConfig *cfg; /* per optimizer, with CLI overrides */
  double obj_loss[NNRT_MAX_OBJECTIVES]; /* each objective's loss in the last step (nobjs > 1) */
  bool obj_ran[NNRT_MAX_OBJECTIVES];    /* whether it ran in the last batch (a `for` of minimize) */
  int64_t batch_no, epoch_batches;      /* the batch of the epoch being trained, and their count */
  NnrtRng rng, eval_rng;
  NnrtCtx ctx, eval_ctx;
  int64_t epoch, step, epochs;
  uint64_t seed;
  int loss_slot, correct_slot;
  NnrtMetricDesc metric[NNRT_MAX_METRICS]; int nmetrics; /* the train block's metrics */
  double metric_mean[NNRT_MAX_METRICS];
  bool metric_error;  /* a split's mAP met a bad true box (reported): the run fails at the end */        /* their means over the split nnrt_eval_split saw */
  NnrtNamedTensor *tensors; int ntensors, nsaved; /* checkpoint table */
  char **names;       /* owned names of optimizer-state tensors */
  void *aug_tmp;      /* one image sample (augment.c); NULL: no augmentation */
  NnrtVocab *vocab;   /* text data: the train corpus's (or a checkpoint's) vocabulary */
  struct NnrtCorpus *corpora; int ncorpora; /* text files read, as ids (dataset.c) */
  NnrtVocab *mlm_vocab;         /* mlm data: the train file's vocabulary */
  struct NnrtMlmData *mlm; int nmlm; /* mlm samples made, per split and file (dataset.c) */
  int shards;                   /* data-parallel shards per step (shard.c); 1: none */
  struct NnrtShards *sh;        /* their buffers, made at the first sharded step */
  double shard_loss, shard_correct; /* the last sharded step's loss and accuracy count */
  double shard_met[NNRT_MAX_METRICS]; /* and its metrics */
} NnrtSession;

/* The vocabulary of the session's text data (see nnrt.h), or NULL when the
 * program reads no text and the checkpoint restored had none. */
const NnrtVocab *nnrt_session_vocab(const NnrtSession *s);
void nnrt_session_text_free(NnrtSession *s); /* the vocabulary and corpora (dataset.c) */

enum { SESSION_DATA = 1, SESSION_TEST = 2, SESSION_OPT = 4 };

/* Build a session: load data (flags), size slots for batch B, initialise
 * params.  On failure prints "error: ..." and returns -1 (session freed). */
int nnrt_session_open(NnrtSession *s, NnrtProgram *p, const NnrtOptions *o,
                      int64_t B, int flags);
void nnrt_session_free(NnrtSession *s);
/* Fill the INPUT slots with samples idx[0..bs) of split sp, or with
 * samples start..start+bs when idx is NULL. */
void nnrt_session_gather(NnrtSession *s, const NnrtSplit *sp, const int64_t *idx,
                         int64_t start, int64_t bs);
double nnrt_session_read(const NnrtSession *s, int slot); /* scalar OUTPUT */
double nnrt_session_elem(const NnrtSession *s, int slot, int64_t i); /* element i of a slot, as double */
void nnrt_split_free(NnrtSplit *sp, int nslots); /* its fields and scales */
void nnrt_session_zero_grads(NnrtSession *s);
/* The gradients at the current params without a step, for gradcheck and
 * grads: GRAD slots zeroed, then the train kernel, or with several
 * objectives the kernels of objectives 0..last in order (each writes its
 * own params' gradients and draws its noise in turn, as in training).
 * Returns the loss of objective `last` (of the train kernel). */
double nnrt_session_objectives(NnrtSession *s, int64_t bs, int last);
/* Checkpoints.  load restores params and state (and, with resume, the
 * optimizer state, epoch, step and RNG). */
int nnrt_session_save(NnrtSession *s, const char *path); /* -2: non-finite weights, not saved */
/* The first checkpoint-table tensor holding a NaN or Inf (its index, the
 * element and value), or -1.  One pass over params, state and optimizer
 * state: train.c runs it after every epoch, save before every save. */
int nnrt_session_nonfinite(const NnrtSession *s, int64_t *elem, double *value);
/* "error: parameter 'W' became nan WHEN (element k of F32 [2, 3])", no newline. */
void nnrt_report_nonfinite(const NnrtSession *s, int t, int64_t elem, double value,
                           const char *when);
int nnrt_session_restore(NnrtSession *s, const NnrtCkpt *c, const char *path, bool resume);
/* nnrt_session_open with the weights of checkpoint o->load when it is set
 * (its seed and validation fraction too, as nnrt_options_from_ckpt): the
 * start of show, grads and sample.  -1 after saying why (session freed). */
int nnrt_session_open_loaded(NnrtSession *s, NnrtProgram *p, const NnrtOptions *o, int64_t B, int flags);
/* train --init-from (session_init.c): copy the tensors o->only selects
 * (every one the checkpoint has, without --only) from o->init_from over
 * the fresh initialisation; optimizer state, epoch, step, seed and
 * generator stay the session's.  Everything is checked before the first
 * byte is copied; -1 after saying why in one line. */
int nnrt_session_init_from(NnrtSession *s, const NnrtOptions *o);
/* -1 (said on stderr) when the epochs left would take the step counter
 * past INT64_MAX (a resumed checkpoint's huge step, or --epochs). */
int nnrt_session_check_steps(const NnrtSession *s, const char *resumed);
/* Load a checkpoint, printing "error: ..." on failure. */
NnrtCkpt *nnrt_ckpt_open(const char *path);
/* Take the seed and validation fraction (unless --valid was given) that
 * checkpoint c was trained with, so a resumed or evaluated run draws the
 * same validation split and normalisation statistics. */
void nnrt_options_from_ckpt(NnrtOptions *o, const NnrtCkpt *c);

/* eval.c: mean loss and accuracy of the train, validation and test splits
 * with the eval kernel (inference mode), in order, batches of s->B. */
enum { NNRT_SPLIT_TRAIN, NNRT_SPLIT_VAL, NNRT_SPLIT_TEST };
typedef struct NnrtMetrics {
  double loss, accuracy, test_loss, test_accuracy, val_loss, val_accuracy;
  double obj[NNRT_MAX_OBJECTIVES]; int nobj; /* each objective's loss on the train split (nobjs > 1) */
  const char *obj_name[NNRT_MAX_OBJECTIVES];
  /* the train block's metrics (`metric NAME = ...;`): means over train,
   * validation and test (NNRT_SPLIT_*), named as the program names them */
  double met[3][NNRT_MAX_METRICS]; int nmet;
  const char *met_name[NNRT_MAX_METRICS];
  bool met_whole[NNRT_MAX_METRICS]; /* over a whole split (an mAP): no running mean in training */
  bool has_accuracy, has_test, has_val;
  int64_t stopped_early, best_epoch; /* early stopping (train): 0 = none */
} NnrtMetrics;
void nnrt_eval_split(NnrtSession *s, const NnrtSplit *sp, double *loss, double *accuracy);
/* Every carried state back to its initialiser (a random one drawn from a
 * copy of the run's generator, which is not advanced). */
void nnrt_session_reset_carried(NnrtSession *s);
/* test_only: skip the train split (validation and test are evaluated). */
void nnrt_evaluate(NnrtSession *s, bool test_only, NnrtMetrics *m);
/* The machine-readable last line: [epoch=N ]loss=X [accuracy=Y] [val_...] [test_...]. */
void nnrt_print_result(const NnrtMetrics *m, int64_t epoch);
int nnrt_cmd_eval(NnrtProgram *p, const NnrtOptions *o);
/* False (and "error: the test loss is inf WITH PATH" on stderr) when a
 * loss of m is NaN/Inf: train and eval then exit 3. */
bool nnrt_metrics_finite(const NnrtMetrics *m, const char *with, const char *path);
/* session.c's parts: the data of the splits the flags ask for, loaded,
 * checked, cut and normalised (dataset.c; oneDNN's warm-up rides on a
 * loader thread when warm, or is left to the caller: *warm_after); the
 * checkpoint table over the slot block (session_ckpt.c). */
int nnrt_session_load_data(NnrtSession *s, int flags, bool warm, bool *warm_after);
int nnrt_session_ckpt_table(NnrtSession *s, bool with_opt);
int nnrt_cmd_train(NnrtProgram *p, const NnrtOptions *o);

/* What the one training loop (train.c) asks of a device: the CPU
 * (nnrt_cpu_backend, train.c) and the GPU (nnrt_cuda_backend, cuda/train.c).
 * The loop itself — epochs, shuffling, gathering and augmenting batches on
 * the host, progress, checkpoints, the log, the plot, evaluation, early
 * stopping, the non-finite checks — is the same for both. */
typedef struct NnrtBackend {
  const char *name;
  /* each batch's loss and correct count are on the host after step (the
   * CPU); otherwise only the epoch's sums, after epoch_sums (the GPU) */
  bool batch_loss;
  /* after the session is open (and resumed): the weights go to the device */
  int (*open)(NnrtSession *s, void **state);
  void (*close)(NnrtSession *s, void *state);
  /* one batch of bs rows, gathered into the host INPUT slots: forward,
   * backward and the optimizer with this epoch's rates; s->step counts it */
  void (*step)(NnrtSession *s, void *state, int64_t bs, int64_t epoch);
  /* with batch_loss: the batch's mean loss and correct count; without: the
   * epoch's loss sum (mean times rows) and correct count */
  void (*metrics)(NnrtSession *s, void *state, double *loss, double *correct);
  /* params, STATE and optimizer state: device -> host slots, and back */
  void (*to_host)(NnrtSession *s, void *state);
  void (*to_device)(NnrtSession *s, void *state);
  /* before the host gathers a batch into the INPUT slots (the GPU waits
   * until the previous batch's copies have left them); may be NULL */
  void (*before_gather)(NnrtSession *s, void *state);
} NnrtBackend;
extern const NnrtBackend nnrt_cpu_backend;
/* The scheduled learning rate of grad entry g's optimizer in this epoch. */
double nnrt_session_lr(const NnrtSession *s, int g, int64_t epoch);
int nnrt_cmd_gradcheck(NnrtProgram *p, const NnrtOptions *o);
int nnrt_cmd_info(NnrtProgram *p, const NnrtOptions *o);
int nnrt_cmd_show(NnrtProgram *p, const NnrtOptions *o); /* show.c: the PNG grid */
/* show.c: samples of an OUTPUT slot alone as a PNG grid (OUT sample of images) */
int nnrt_draw_grid(const NnrtSlotDesc *ss, const void *base, int64_t n, const char *path);
int nnrt_cmd_grads(NnrtProgram *p, const NnrtOptions *o); /* grads.c: gradient norms */
int nnrt_cmd_sample(NnrtProgram *p, const NnrtOptions *o); /* sample.c: text generation */
/* sample.c: the n samples of OUTPUT slot ss (values at base) as a NumPy
 * .npy file at path (what: its name in messages); 0, or 1 after a message */
int nnrt_write_npy(const NnrtSlotDesc *ss, const void *base, int64_t n, const char *path, const char *what);
int nnrt_cmd_predict(NnrtProgram *p, const NnrtOptions *o); /* predict.c: the network's output as .npy */
/* sample.c: train --samples DIR — whether the program draws images (a
 * `sample` without text data), and the grid of epoch s->epoch, the same
 * noise every epoch (0, or 1 after a message) */
bool nnrt_samples_images(const NnrtProgram *p);
int nnrt_sample_epoch(NnrtSession *s, const char *dir);

/* augment.c: data augmentation of training batches.  An image slot is a
 * float INPUT slot shaped [B, C, H, W] or [B, H, W]. */
bool nnrt_slot_is_image(const NnrtSlotDesc *s);
/* One sample's transform: crop offsets, flip, angle in degrees. */
typedef struct NnrtAugDraw { int64_t dy, dx; bool flip; double angle; } NnrtAugDraw;
/* Draw one sample's transform from r (the order is in augment.c). */
void nnrt_augment_draw(const NnrtAugment *a, NnrtRng *r, NnrtAugDraw *d);
/* dst (h, w) = src (h, w) cropped (with a->crop), flipped, then rotated
 * per d.  dst and src must not overlap. */
void nnrt_augment_image_f32(float *dst, const float *src, int64_t h, int64_t w,
                            int64_t crop, const NnrtAugDraw *d);
void nnrt_augment_image_f64(double *dst, const double *src, int64_t h, int64_t w,
                            int64_t crop, const NnrtAugDraw *d);
/* Allocate s->aug_tmp when the program augments (and --no-augment is off). */
int nnrt_augment_open(NnrtSession *s);
/* Augment the image slots' first bs samples in place (no-op when off). */
void nnrt_augment_batch(NnrtSession *s, int64_t bs);

/* progress.c: what the user sees while training. */
typedef struct NnrtProgress {
  bool bar, lines;       /* live bar on stderr (a terminal); plain lines on stdout */
  int64_t epochs, every; /* lines are shown every `every` epochs and at the end */
  double t_epoch, t_draw;
  int64_t n;             /* samples per epoch */
} NnrtProgress;
void nnrt_progress_start(NnrtProgress *g, bool quiet, int64_t epochs, int64_t n);
bool nnrt_progress_shows(const NnrtProgress *g, int64_t epoch); /* 1-based */
void nnrt_progress_batch(NnrtProgress *g, int64_t epoch, int64_t done, double loss,
                         double accuracy, bool has_accuracy);
void nnrt_progress_epoch(NnrtProgress *g, int64_t epoch, const NnrtMetrics *m, double seconds);
void nnrt_progress_abort(NnrtProgress *g);

/* Helpers */
double nnrt_now(void); /* monotonic seconds */
/* nnrt_alloc, printing the out-of-memory error (nnrt_oom) when it fails */
void *nnrt_alloc_or_say(size_t bytes, const char *what);
void nnrt_oom(const char *what, size_t bytes); /* prints the out-of-memory error: */
#define NNRT_OOM_FORMAT "error: out of memory allocating %s (%zu bytes)\n"
void nnrt_threads_set(int n); /* threads.c: OpenMP threads for --threads N (0: default) */
void nnrt_bench_mark(const char *what); /* bench.c: NNRT_BENCH timestamps */
/* profile.c: the items of a --profile build that took most (stderr);
 * nothing when the program was built without --profile */
void nnrt_prof_report(double run_seconds);
/* gemm.c: whether nnrt_sgemm hands an m x n x k product to oneDNN; and a
 * call that makes oneDNN build its sgemm kernels now (on any thread, once
 * is enough; it must return before the program exits). */
bool nnrt_sgemm_uses_dnnl(int64_t m, int64_t n, int64_t k);
void nnrt_gemm_warm(void);

#endif
