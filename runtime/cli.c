/*
 * cli.c — nnrt_main: runs the generated setup, parses the command line and
 * dispatches to train / eval / info / gradcheck / show / grads / sample / predict.
 *
 *   OUT train [--epochs N] [--batch N] [--lr X] [--seed N] [--valid X] [--early-stop N]
 *             [--limit N] [--no-augment] [--save FILE]
 *             [--resume FILE | --init-from FILE [--only GLOB]... [--rename FROM=TO]...]
 *             [--log FILE.csv] [--plot FILE.svg] [--quiet] [--threads N] [--shards S]
 *   (mpirun -np N OUT train ...: data-parallel over N processes, comm.c, shard.c)
 *   OUT eval [--load FILE] [--batch N] [--valid X] [--threads N]
 *   OUT info
 *   OUT show [--load FILE] [--count N] [-o FILE.png]
 *   OUT predict [--load FILE] [--input [FIELD=]FILE.npy]... [--count N] [--batch N] [-o FILE.npy]
 *   OUT gradcheck [--eps X] [--tol X] [--entries N] [--batch N] [--seed N] [--load FILE]
 *   (train, eval and gradcheck also take --device cpu|cuda; runtime/cuda)
 *   OUT --help
 * Flags take "--flag value" or "--flag=value".
 *
 * Exit codes: 0 success; 1 a run-time error (bad data, checkpoint, out of
 * memory, failed gradcheck); 2 a usage error (unknown command or flag, bad
 * number), reported in one line plus a hint; 3 the loss or a weight became
 * NaN/Inf (train; nothing non-finite is saved), or the final evaluation's
 * loss (train, eval) is not finite.
 * Invariants: every byte the program description and the session
 * allocate is freed before returning, on every path.
 */
#include "comm.h"
#include "program.h"
#include "include/nnrt_commands.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NNRT_CUDA
#include "cuda/cuda.h"
#else /* a runtime built without the GPU path */
static int nnrt_cuda_select(NnrtProgram *p) {
  (void)p;
  fprintf(stderr, "error: --device cuda: this runtime was built without CUDA support (NNC_CUDA=OFF)\n");
  return -1;
}
#endif

/* include/nnrt_commands.h's table: each command's bit (for the flags
 * table below) and its entry point nnrt_cmd_NAME. */
#define NNRT_COMMAND_INDEX(name, what) CI_##name,
enum { NNRT_COMMANDS(NNRT_COMMAND_INDEX) };
#undef NNRT_COMMAND_INDEX
enum { C_TRAIN = 1 << CI_train, C_EVAL = 1 << CI_eval, C_INFO = 1 << CI_info,
       C_GRADCHECK = 1 << CI_gradcheck, C_SHOW = 1 << CI_show, C_GRADS = 1 << CI_grads,
       C_SAMPLE = 1 << CI_sample, C_PREDICT = 1 << CI_predict };

typedef int (*CommandFn)(NnrtProgram *p, const NnrtOptions *o);
#define NNRT_COMMAND_ROW(name, what) {#name, 1 << CI_##name, nnrt_cmd_##name},
static const struct { const char *name; int bit; CommandFn run; } commands[] = {
  NNRT_COMMANDS(NNRT_COMMAND_ROW)
};
#undef NNRT_COMMAND_ROW
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

typedef enum { F_EPOCHS, F_BATCH, F_LR, F_SEED, F_SAVE, F_RESUME, F_LOAD, F_LOG, F_PLOT, F_QUIET,
               F_THREADS, F_EPS, F_TOL, F_VALID, F_DEVICE, F_CHECK_NUMERICS,
               F_LIMIT, F_COUNT, F_OUT, F_EARLY_STOP, F_NO_AUGMENT, F_ROWS, F_LEN, F_TEMPERATURE, F_PROMPT,
               F_ENTRIES, F_INIT_FROM, F_ONLY, F_RENAME, F_SAMPLES, F_SHARDS, F_INPUT } FlagId;

static const struct { const char *name; FlagId id; int cmds; bool value; } flags[] = {
  {"epochs", F_EPOCHS, C_TRAIN, true},
  {"batch", F_BATCH, C_TRAIN | C_EVAL | C_GRADCHECK | C_GRADS | C_PREDICT, true},
  {"lr", F_LR, C_TRAIN, true},
  {"seed", F_SEED, C_TRAIN | C_EVAL | C_GRADCHECK | C_SHOW | C_GRADS | C_SAMPLE | C_PREDICT, true},
  {"save", F_SAVE, C_TRAIN, true},
  {"resume", F_RESUME, C_TRAIN, true},
  {"init-from", F_INIT_FROM, C_TRAIN, true},
  {"only", F_ONLY, C_TRAIN, true},
  {"rename", F_RENAME, C_TRAIN, true},
  {"load", F_LOAD, C_EVAL | C_SHOW | C_GRADS | C_SAMPLE | C_GRADCHECK | C_PREDICT, true},
  {"log", F_LOG, C_TRAIN, true},
  {"plot", F_PLOT, C_TRAIN, true},
  {"quiet", F_QUIET, C_TRAIN | C_EVAL | C_GRADCHECK | C_INFO, false},
  {"threads", F_THREADS, C_TRAIN | C_EVAL | C_GRADCHECK | C_SHOW | C_GRADS | C_SAMPLE | C_PREDICT, true},
  {"eps", F_EPS, C_GRADCHECK, true},
  {"tol", F_TOL, C_GRADCHECK, true},
  {"entries", F_ENTRIES, C_GRADCHECK, true},
  {"valid", F_VALID, C_TRAIN | C_EVAL, true},
  {"device", F_DEVICE, C_TRAIN | C_EVAL | C_GRADCHECK, true},
  {"check-numerics", F_CHECK_NUMERICS, C_TRAIN | C_EVAL | C_GRADCHECK, false},
  {"limit", F_LIMIT, C_TRAIN, true},
  {"count", F_COUNT, C_SHOW | C_SAMPLE | C_PREDICT, true},
  {"out", F_OUT, C_SHOW | C_GRADS | C_SAMPLE | C_PREDICT, true}, /* also -o */
  {"rows", F_ROWS, C_GRADS, true},
  {"len", F_LEN, C_SAMPLE, true},
  {"temperature", F_TEMPERATURE, C_SAMPLE, true},
  {"prompt", F_PROMPT, C_SAMPLE, true},
  {"early-stop", F_EARLY_STOP, C_TRAIN, true},
  {"no-augment", F_NO_AUGMENT, C_TRAIN, false},
  {"samples", F_SAMPLES, C_TRAIN, true},
  {"shards", F_SHARDS, C_TRAIN, true},
  {"input", F_INPUT, C_PREDICT, true},
};

static void usage(FILE *f, const char *prog) {
  fprintf(f,
          "usage: %s COMMAND [FLAGS]\n"
          "\n"
          "commands:\n"
          "  train      train the model on its data\n"
          "    --epochs N      total epochs (counting those of a resumed run)\n"
          "    --batch N       mini-batch size (>= samples: full batch; 1: SGD)\n"
          "    --lr X          base learning rate of every optimizer\n"
          "    --seed N        seed for initialisation, shuffling and dropout\n"
          "    --valid X       hold out fraction X of the train split for validation\n"
          "    --early-stop N  stop after N epochs without a better validation loss and\n"
          "                    restore the best epoch's weights (0: off; needs --valid)\n"
          "    --limit N       train on the first N training samples only (quick runs)\n"
          "    --no-augment    train without the train block's `augment = images(...);`\n"
          "    --save FILE     save a safetensors checkpoint after every epoch\n"
          "    --resume FILE   continue from a checkpoint (and keep saving to it)\n"
          "    --init-from FILE  start from a checkpoint's parameters and states, by name,\n"
          "                    over the fresh initialisation (not its optimizer state,\n"
          "                    epoch or generator: a fine-tune starts afresh); not with --resume\n"
          "    --only GLOB     with --init-from: only the tensors whose names match GLOB\n"
          "                    (repeatable; e.g. 'encoder.*'); each one must be in the file\n"
          "    --rename FROM=TO  with --init-from: the program's TO... is the file's FROM...\n"
          "                    (a name prefix, e.g. bert.=encoder.; repeatable)\n"
          "    (--epochs 0 --save FILE writes the initial weights, --init-from's included)\n"
          "    --log FILE.csv  write epoch,loss,accuracy,lr,seconds,... per epoch\n"
          "    --plot FILE.svg draw the loss and accuracy curves (SVG) after training\n"
          "    --samples DIR   an image model: DIR/epoch-001.png ... of `sample` after every\n"
          "                    epoch, 16 images from the same noise each time\n"
          "    --quiet         no progress output, only the final line\n"
          "    --threads N     worker threads (default: the cores; under mpirun, their share)\n"
          "    --shards S      data-parallel: each batch in S shards (a power of two) whose\n"
          "                    gradients are summed in a fixed tree; `mpirun -np N` (N divides\n"
          "                    S; default S = N) gives the bits of one process with --shards S\n"
          "    --device D      cpu (default) or cuda (train, eval, gradcheck; needs nnc build --cuda)\n"
          "    --check-numerics  stop at the first op that makes a NaN/Inf, naming its .nn line\n"
          "                    (train, eval, gradcheck; CPU)\n"
          "  eval       evaluate weights on the train and test data\n"
          "    --load FILE     checkpoint to evaluate (default: fresh initialisation)\n"
          "    --valid X       validation fraction (default: the checkpoint's, else the program's)\n"
          "    --batch N       evaluation batch size\n"
          "  info       print the layers, shapes, parameter counts and FLOPs\n"
          "  show       draw the first test samples next to the train block's `show = ...;`\n"
          "             output, evaluated in inference mode, as a PNG grid\n"
          "    --load FILE     checkpoint to draw (default: fresh initialisation)\n"
          "    --count N       samples drawn (default 16)\n"
          "    -o FILE.png     where to write it (default show.png)\n"
          "  grads      one forward and backward pass on the first batch, no update: each\n"
          "             parameter's gradient norm and largest magnitude\n"
          "    --load FILE     checkpoint (default: fresh initialisation)\n"
          "    --rows NAME     also the norm of each row of NAME's gradient, as CSV row,grad_norm\n"
          "    -o FILE.csv     where --rows writes (default: standard output)\n"
          "  sample     generate from the train block's `sample = ...;`: text (next-token logits),\n"
          "             or, without text data, images (a PNG grid)\n"
          "    --load FILE     checkpoint (default: fresh initialisation)\n"
          "    --prompt TEXT   the text to continue (default: none)\n"
          "    --len N         tokens to generate (default 200)\n"
          "    --temperature X divide the logits by X (default 1; 0: the most likely token)\n"
          "    --seed N        the draws' seed (same seed, same text or image)\n"
          "    --count N       images: how many (default 16)\n"
          "    -o FILE.png     images: where to write the grid (default sample.png)\n"
          "  predict    the network's output (the train block's `predict = ...;`, else the\n"
          "             prediction its classifier loss takes, else its `show`) in inference\n"
          "             mode, as a NumPy .npy file of [samples, ...]\n"
          "    --load FILE     checkpoint (default: fresh initialisation)\n"
          "    --input [FIELD=]FILE.npy  the values data field FIELD (default: the data block's\n"
          "                    first) receives, samples first (repeatable; fields not given\n"
          "                    are zero); without --input: the test samples (else train)\n"
          "    --count N       only the first N samples (default: all)\n"
          "    --batch N       rows per kernel call (default: the program's batch)\n"
          "    -o FILE.npy     where to write it (default predict.npy)\n"
          "  gradcheck  compare symbolic gradients with central differences on the first\n"
          "             batch (training mode, unshuffled); prints what it checked and the\n"
          "             worst error with its element\n"
          "    --eps X         finite-difference step (default 1e-6 when every parameter is\n"
          "                    f64, 1e-3 when one is f32)\n"
          "    --tol X         tolerance on |analytic - numeric| / max(1, |analytic|, |numeric|)\n"
          "                    (default 1e-5 when every parameter is f64, 1e-2 when one is f32)\n"
          "    --entries N     elements probed per parameter, evenly spaced (default 30; 0: all)\n"
          "    --load FILE     check at a checkpoint's weights (default: fresh initialisation,\n"
          "                    where zero biases often put relu and max at kinks)\n"
          "\n"
          "train's last line is a fresh evaluation of every split in inference mode with\n"
          "the weights it kept (the line before it says which; --quiet omits that line).\n"
          "The last line of train and eval is key=value pairs, e.g.\n"
          "  epoch=10 loss=0.31 accuracy=0.89 test_loss=0.35 test_accuracy=0.87\n"
          "(a validation split adds val_loss= val_accuracy= before test_loss=;\n"
          "early stopping ends train's line with [stopped_early=N] best_epoch=E)\n"
          "exit status: 0 ok, 1 error, 2 usage error, 3 the loss or a weight became nan/inf\n"
          "(eval: a non-finite loss; with --check-numerics, an op produced nan/inf)\n",
          prog);
}

static int usage_error(const char *prog, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "error: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\nhint: run '%s --help' for usage\n", prog);
  return 2;
}

static bool parse_int(const char *v, int64_t lo, int64_t *out) {
  if (!v || !*v || (*v == '-' && lo >= 0))
    return false;
  errno = 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (errno || *end || x < lo)
    return false;
  *out = x;
  return true;
}

static bool parse_u64(const char *v, uint64_t *out) {
  if (!v || !*v || *v == '-' || *v == '+')
    return false;
  errno = 0;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end)
    return false;
  *out = x;
  return true;
}

static bool parse_pos(const char *v, double *out) {
  if (!v || !*v)
    return false;
  errno = 0;
  char *end;
  double x = strtod(v, &end);
  if (errno || *end || !isfinite(x) || x <= 0)
    return false;
  *out = x;
  return true;
}

static bool parse_fraction(const char *v, double *out) {
  if (!v || !*v)
    return false;
  errno = 0;
  char *end;
  double x = strtod(v, &end);
  if (errno || *end || !(x >= 0 && x < 1))
    return false;
  *out = x;
  return true;
}

/* --init-from starts a run, --resume continues one: not both; --only and
 * --rename say what --init-from reads. */
static int check_init_flags(const char *prog, const NnrtOptions *o) {
  if (o->init_from && o->resume)
    return usage_error(prog, "--init-from and --resume exclude each other (a resumed run takes all "
                       "its tensors from %s)%s", o->resume, "");
  if (!o->init_from && (o->nonly || o->nrename))
    return usage_error(prog, "%s says what --init-from FILE reads, but there is no --init-from%s",
                       o->nonly ? "--only" : "--rename", "");
  return 0;
}

/* Parse argv[2..] into o; returns 0 or the usage exit code. */
static int parse_flags(int argc, char **argv, int cmd, NnrtOptions *o) {
  const char *prog = argv[0], *cmdname = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *arg = strcmp(argv[i], "-o") == 0 ? "--out" : argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(stdout, prog);
      return -1;
    }
    if (strncmp(arg, "--", 2) != 0)
      return usage_error(prog, "unexpected argument '%s' for '%s'", arg, cmdname);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int f = -1;
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
      if (strlen(flags[k].name) == len && strncmp(flags[k].name, name, len) == 0)
        f = (int)k;
    if (f < 0 || !(flags[f].cmds & cmd)) {
      char flag[64];
      snprintf(flag, sizeof flag, "--%.*s", (int)(len < 40 ? len : 40), name);
      return usage_error(prog, "unknown flag '%s' for '%s'", flag, cmdname);
    }
    const char *v = NULL;
    if (flags[f].value) {
      if (eq)
        v = eq + 1;
      else if (i + 1 < argc)
        v = argv[++i];
      else
        return usage_error(prog, "flag '%s' needs a value%s", arg, "");
    } else if (eq) {
      return usage_error(prog, "flag '--%s' takes no value%s", flags[f].name, "");
    }
    bool ok = true;
    int64_t n = 0; /* read below even when parsing failed */
    switch (flags[f].id) {
    case F_EPOCHS: ok = parse_int(v, 0, &o->epochs); break;
    case F_BATCH: ok = parse_int(v, 1, &o->batch); break;
    case F_THREADS: ok = parse_int(v, 1, &n) && n <= 4096; o->threads = (int)n; break;
    case F_LR: ok = parse_pos(v, &o->lr); break;
    case F_EPS: ok = parse_pos(v, &o->eps); break;
    case F_TOL: ok = parse_pos(v, &o->tol); break;
    case F_ENTRIES: ok = parse_int(v, 0, &o->entries); break;
    case F_VALID: ok = parse_fraction(v, &o->valid); o->has_valid = true; break;
    case F_DEVICE: o->device = v; ok = !strcmp(v, "cpu") || !strcmp(v, "cuda"); break;
    case F_SEED: ok = parse_u64(v, &o->seed); o->has_seed = true; break;
    case F_SAVE: o->save = v; ok = *v; break;
    case F_RESUME: o->resume = v; ok = *v; break;
    case F_LOAD: o->load = v; ok = *v; break;
    case F_LOG: o->log = v; ok = *v; break;
    case F_PLOT: o->plot = v; ok = *v; break;
    case F_QUIET: o->quiet = true; break;
    case F_CHECK_NUMERICS: o->check_numerics = true; break;
    case F_LIMIT: ok = parse_int(v, 1, &o->limit); break;
    case F_EARLY_STOP: ok = parse_int(v, 0, &o->early_stop); o->has_early_stop = true; break;
    case F_NO_AUGMENT: o->no_augment = true; break;
    case F_SAMPLES: o->samples_dir = v; ok = *v; break;
    case F_SHARDS: ok = parse_int(v, 1, &n) && n <= 4096; o->shards = (int)n; break;
    case F_COUNT: ok = parse_int(v, 1, &o->count) && (o->count <= 4096 || cmd == C_PREDICT); break;
    case F_OUT: o->out = v; ok = *v; break;
    case F_ROWS: o->rows = v; ok = *v; break;
    case F_LEN: ok = parse_int(v, 1, &o->len) && o->len <= 1000000; break;
    case F_TEMPERATURE: ok = parse_fraction(v, &o->temperature) || (parse_pos(v, &o->temperature) && o->temperature <= 100); break;
    case F_PROMPT: o->prompt = v; break;
    case F_INIT_FROM: o->init_from = v; ok = *v; break;
    case F_ONLY:
      if (o->nonly == NNRT_MAX_ONLY)
        return usage_error(prog, "more than %s --only flags%s", NNRT_MAX_ONLY_STR, "");
      o->only[o->nonly++] = v;
      ok = *v;
      break;
    case F_INPUT:
      if (o->ninputs == NNRT_MAX_ONLY)
        return usage_error(prog, "more than %s --input flags%s", NNRT_MAX_ONLY_STR, "");
      o->inputs[o->ninputs++] = v;
      ok = *v && v[strlen(v) - 1] != '=';
      break;
    case F_RENAME:
      if (o->nrename == NNRT_MAX_ONLY)
        return usage_error(prog, "more than %s --rename flags%s", NNRT_MAX_ONLY_STR, "");
      o->rename[o->nrename++] = v;
      ok = strchr(v, '=') && strcmp(v, "=") != 0; /* FROM=TO; either may be empty, not both */
      break;
    }
    if (!ok)
      return usage_error(prog, "bad value '%s' for --%s", v, flags[f].name);
  }
  return check_init_flags(prog, o);
}

/* No output may overwrite an input or another output: `--log train.csv`
 * would truncate the training data, `--save model` replace this very
 * executable, `--log ck.st --save ck.st` interleave two files in one.  A
 * save onto the checkpoint it resumed from is the intended default. */
static int check_output_paths(const NnrtProgram *p, const NnrtOptions *o,
                              int cmd) {
  const char *outs[3], *out_flags[3];
  int nout = 0;
  const char *save = o->save ? o->save : o->resume;
  if (cmd == C_TRAIN) {
    if (save)
      outs[nout] = save, out_flags[nout++] = o->save ? "--save" : "--resume (which keeps saving)";
    if (o->log)
      outs[nout] = o->log, out_flags[nout++] = "--log";
    if (o->plot)
      outs[nout] = o->plot, out_flags[nout++] = "--plot";
  } else if (cmd == C_SHOW) {
    outs[nout] = o->out ? o->out : "show.png", out_flags[nout++] = "-o";
  } else if (cmd == C_GRADS && o->out) {
    outs[nout] = o->out, out_flags[nout++] = "-o";
  } else if (cmd == C_PREDICT) {
    outs[nout] = o->out ? o->out : "predict.npy", out_flags[nout++] = "-o";
  }
  for (int i = 0; i < nout; i++) {
    char what[600] = "";
    for (int j = 0; j < i && !what[0]; j++)
      if (nnrt_same_file(outs[i], outs[j]))
        snprintf(what, sizeof what, "the file of %s", out_flags[j]);
    if (!what[0] && nnrt_same_file(outs[i], "/proc/self/exe"))
      snprintf(what, sizeof what, "this program");
    const char *ck = cmd == C_TRAIN ? o->resume : o->load;
    if (!what[0] && ck && !(cmd == C_TRAIN && save && i == 0) && /* save onto --resume: fine */
        nnrt_same_file(outs[i], ck))
      snprintf(what, sizeof what, "the checkpoint it reads (%s)", cmd == C_TRAIN ? "--resume" : "--load");
    if (!what[0] && cmd == C_TRAIN && o->init_from && nnrt_same_file(outs[i], o->init_from))
      snprintf(what, sizeof what, "the checkpoint it starts from (--init-from)");
    for (int j = 0; j < o->ninputs && !what[0]; j++) {
      const char *eq = strchr(o->inputs[j], '=');
      if (nnrt_same_file(outs[i], eq ? eq + 1 : o->inputs[j]))
        snprintf(what, sizeof what, "the file of --input %s", o->inputs[j]);
    }
    for (int j = 0; j < p->ndata && !what[0]; j++)
      if (p->data[j].kind != DATA_TABLE && p->data[j].path && nnrt_same_file(outs[i], p->data[j].path))
        snprintf(what, sizeof what, "the %s data of field '%.64s'", p->data[j].split, p->data[j].field);
    if (what[0]) {
      fprintf(stderr, "error: %s %s is also %s: refusing to overwrite it\n", out_flags[i], outs[i],
              what);
      return 1;
    }
  }
  return 0;
}

/* The cores this process may use (OpenMP's default), shared among the
 * ranks an MPI launcher started on this machine. */
static int default_threads(void) {
  int n = omp_get_max_threads();
  if (nnrt_comm.local_size > 1) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long share = cores / nnrt_comm.local_size;
    if (share < n)
      n = share > 0 ? (int)share : 1;
  }
  return n;
}

static int run_command(int argc, char **argv, NnrtSetupFn setup) {
  const char *prog = argc > 0 && argv[0] ? argv[0] : "model";
  if (argc < 2) {
    usage(stderr, prog);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout, prog);
    return 0;
  }
  int ci = -1;
  for (int k = 0; k < NCOMMANDS; k++)
    if (strcmp(argv[1], commands[k].name) == 0)
      ci = k;
  if (ci < 0) {
    char names[256] = "";
    for (int k = 0; k < NCOMMANDS; k++)
      snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", commands[k].name);
    return usage_error(prog, "unknown command '%s' (expected %s)", argv[1], names);
  }
  int cmd = commands[ci].bit;
  NnrtOptions o = {.epochs = -1, .batch = -1, .lr = -1, .eps = -1, .tol = -1, .entries = -1,
                   .temperature = 1};
  int rc = parse_flags(argc, argv, cmd, &o);
  if (rc != 0)
    return rc < 0 ? 0 : rc;

  NnrtProgram *p = nnrt_alloc(sizeof *p, "program description");
  if (!p) {
    nnrt_oom("program description", sizeof *p);
    return 1;
  }
  memset(p, 0, sizeof *p);
  p->epochs = 10;
  p->batch = 32;
  setup(p);
  nnrt_bench_mark("setup");
  if (p->failed) {
    fprintf(stderr, "error: %s\n", p->err);
    nnrt_program_free(p);
    return 1;
  }
  if ((rc = check_output_paths(p, &o, cmd)) != 0) {
    nnrt_program_free(p);
    return rc;
  }
  if (nnrt_comm.size > 1 && cmd != C_TRAIN) {
    if (nnrt_comm.rank == 0)
      fprintf(stderr, "error: under an MPI launcher only 'train' runs (data-parallel); run '%s' as "
              "one process\n", argv[1]);
    nnrt_program_free(p);
    return 1;
  }
  if (nnrt_comm.rank > 0) { /* rank 0 alone prints and writes files */
    o.quiet = true;
    o.log = o.plot = o.samples_dir = NULL;
  }
  nnrt_threads_set(o.threads > 0 ? o.threads : default_threads());
  bool gpu = o.device && !strcmp(o.device, "cuda");
  if (gpu && cmd == C_TRAIN && o.check_numerics) {
    fprintf(stderr, "error: --check-numerics runs its checked kernels on the CPU only (drop --device cuda)\n");
    nnrt_program_free(p);
    return 1;
  }
  if (gpu && nnrt_cuda_select(p) != 0) {
    nnrt_program_free(p);
    return 1;
  }
  rc = commands[ci].run(p, &o); /* train: on o.device's backend */
  nnrt_program_free(p);
  return rc;
}

/* The standard streams are checked like any output file.  A closed stdout
 * (./model train >&-) would pass descriptor 1 to the next file opened, and
 * the log or a checkpoint would receive the progress lines: refused before
 * anything runs.  A closed stderr is given /dev/null (nothing can be said,
 * but the exit status still tells).  A failed write to stdout (a full disk,
 * > /dev/full) is an error at the end, whatever the command did. */
int nnrt_main(int argc, char **argv, NnrtSetupFn setup) {
  if (fcntl(STDERR_FILENO, F_GETFD) < 0) {
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && fd != STDERR_FILENO)
      close(fd); /* not descriptor 2: then 2 is open after all */
  }
  if (fcntl(STDOUT_FILENO, F_GETFD) < 0) {
    fprintf(stderr, "error: standard output is closed: results would be lost (redirect it to a "
            "file or /dev/null)\n");
    return 1;
  }
  nnrt_bench_mark("main"); /* NNRT_BENCH: start-up phases, bench/bench.py */
  if (nnrt_comm_start() != 0) /* one rank of an MPI job? (comm.c) */
    return 1;
  if (nnrt_comm.rank > 0 && !freopen("/dev/null", "w", stdout)) {
    fprintf(stderr, "error: rank %d cannot silence its standard output\n", nnrt_comm.rank);
    nnrt_comm.ops->abort(1);
  }
  int rc = run_command(argc, argv, setup);
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "error: cannot write to standard output: %s\n",
            errno ? strerror(errno) : "write error");
    if (rc == 0)
      rc = 1;
  }
  /* A rank that failed alone would leave the others waiting in a
   * collective: the whole job ends with its code.  Most failures happen on
   * every rank at once (a bad flag, a refused program), and only rank 0
   * says why: the others give it a second to say so before they abort. */
  if (rc != 0 && nnrt_comm.size > 1) {
    if (nnrt_comm.rank > 0)
      sleep(1);
    nnrt_comm.ops->abort(rc);
  }
  nnrt_comm_stop();
  return rc;
}
