/*
 * main.c — the driver: command-line options into a Compilation, then the
 * pipeline of passes.c, whole (`nnc build`) or up to the pass whose output
 * `nnc emit KIND` prints.  `nnc emit passes` lists the pipeline.  --help is
 * made from the commands table below, passes.c's dump names and the
 * runtime's command table (runtime/include/nnrt_commands.h).
 *
 * Exit codes: 0 success, 1 errors in the user's program, 2 bad usage,
 * 70 internal compiler error.  NNC_TIME=1 prints each pass's time.
 */
#include "nnc.h"
#include "../runtime/include/nnrt_commands.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int plot_main(int argc, char **argv); /* plot_main.c */

/* nnc's commands: the usage text and the dispatch both come from this
 * table, and the emit kinds from passes.c's, so --help cannot drift.
 * `plot` takes its own arguments; the others go through run(). */
static const struct { const char *name, *args, *what; } commands[] = {
  {"build", "FILE.nn [-o OUT] [-O0|-O1|-O2|-O3]", "compile to a native executable"},
  {"check", "FILE.nn", "report diagnostics only"},
  {"emit", "KIND FILE.nn [-O0..-O3]", "dump what a pass made to stdout (KIND below)"},
  {"emit passes", "", "list the passes in order"},
  {"export", "FILE.nn --load CKPT [-o OUT.onnx]", "the prediction as an ONNX model, weights from CKPT"},
  {"gradcheck", "FILE.nn [--f32] [FLAGS]", "build in f64 and run OUT gradcheck FLAGS (see below)"},
  {"plot", "A.csv [B.csv ...] -o OUT.svg", "overlay training logs (nnc plot --help)"},
};

#define NNRT_COMMAND_NAME(name, what) "|" #name
static void usage(FILE *f) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    const char *cmd = arena_printf("nnc %s %s", commands[i].name, commands[i].args);
    fprintf(f, "%s%-50s %s\n", i ? "       " : "usage: ", cmd, commands[i].what);
  }
  fprintf(f,
          "       nnc --help | --version\n"
          "emit KIND: %s\n"
          "options: --no-simplify   build the graph without algebraic rewrites\n"
          "         --no-fuse       one loop per op (no operator fusion)\n"
          "         --verify-each   check the IR's invariants after every pass (also NNC_VERIFY_EACH=1)\n"
          "         --f64           take every f32 (and every model's element type) of the program and the stdlib as f64\n"
          "         --scan          keep `for` loops over time steps as loops (scans) in the IR (the default)\n"
          "         --unroll        unroll every `for` loop (also NNC_SCAN=0)\n"
          "         --graph G       emit dot: backward (forward and derived gradient; default),\n"
          "                         forward (the inference kernel) or fused (loops boxed)\n"
          "         --profile       the executable times each loop, GEMM and copy of its step and prints\n"
          "                         the ones that took most after training (same results)\n"
          "         --cuda          also embed GPU kernels (PTX for $NNC_CUDA_ARCH, default sm_80);\n"
          "                         the executable then takes --device cuda\n"
          "gradcheck: builds FILE.nn with --f64 (--f32: as written) into a temporary folder and\n"
          "         runs its gradcheck there; FLAGS (--eps, --tol, --entries, --batch, --seed,\n"
          "         --load, --threads, ...) go to it, and its exit status is nnc's\n"
          "The executable it builds: OUT %s [--help]\n",
          passes_dump_names(), NNRT_COMMANDS(NNRT_COMMAND_NAME) + 1);
}
#undef NNRT_COMMAND_NAME

static bool is_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(commands[i].name, name)) return true;
  return false;
}

static int bad_usage(const char *msg) {
  fprintf(stderr, "nnc: error: %s\n", msg);
  usage(stderr);
  return 2;
}

static int run(int argc, char **argv);
static int gradcheck(int argc, char **argv);

/* The options that shape a build, shared by every command that compiles:
 * true when a was one of them (and is now in c). */
static bool build_option(Compilation *c, const char *a) {
  if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) c->co.opt_level = a[2] - '0';
  else if (!strcmp(a, "--no-fuse")) c->po.fuse = false;
  else if (!strcmp(a, "--no-simplify")) c->po.simplify = false;
  else if (!strcmp(a, "--verify-each")) c->po.verify_each = true;
  else if (!strcmp(a, "--scan")) c->po.scan = 1;
  else if (!strcmp(a, "--unroll")) c->po.scan = -1;
  else if (!strcmp(a, "--profile")) c->co.profile = true;
  else return false;
  return true;
}

/* The passes walk expressions recursively, up to NNC_MAX_HEIGHT levels (and
 * lowering up to twice that once calls are inlined: ~400 MB of stack at
 * that depth under AddressSanitizer, half that optimised), so the compiler
 * runs on a thread with a 1 GiB stack.  Only the pages a program reaches
 * are touched.  Where such a thread cannot be made (a strict overcommit
 * limit), it runs on the main stack: ordinary programs fit there. */
enum { COMPILER_STACK = 1024ul << 20 };
typedef struct RunArgs { int argc; char **argv; int rc; } RunArgs;

static void *run_thread(void *p) {
  RunArgs *a = p;
  a->rc = run(a->argc, a->argv);
  return NULL;
}

/* Whatever went to stdout (a dump, --help) must have arrived: a full disk
 * or a closed stdout is an error, not a silent success. */
int main(int argc, char **argv) {
  RunArgs a = {argc, argv, 0};
  pthread_attr_t attr;
  pthread_t t;
  if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, COMPILER_STACK) ||
      pthread_create(&t, &attr, run_thread, &a))
    run_thread(&a);
  else
    pthread_join(t, NULL);
  int rc = a.rc;
  if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
    fprintf(stderr, "nnc: error: writing to standard output failed: %s\n", strerror(errno));
    if (!rc) rc = 1;
  }
  return rc;
}

/* The default output of FILE.nn: its base name with ext for .nn (FILE or
 * FILE.onnx), else the name plus ".out". */
static const char *output_name(const char *file, const char *ext) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  char *o = arena_strdup(base);
  char *dot = strrchr(o, '.');
  if (dot && !strcmp(dot, ".nn")) {
    *dot = 0;
    return arena_printf("%s%s", o, ext);
  }
  return arena_printf("%s.out", o);
}

static int run(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "plot")) return plot_main(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "gradcheck")) return gradcheck(argc - 1, argv + 1);
  const char *cmd = NULL, *kind = NULL, *file = NULL, *load = NULL;
  Compilation c = {.po = {.simplify = true, .fuse = true, .grads = true}, .co = {.opt_level = 2, .split = true}};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    if (!strcmp(a, "--version")) { printf("nnc %s (LLVM C API, x86-64)\n", NNC_VERSION); return 0; }
    if (!strcmp(a, "-o")) {
      if (++i >= argc) return bad_usage("-o needs a file name");
      c.out = argv[i];
    } else if (!strcmp(a, "--load")) {
      if (++i >= argc) return bad_usage("--load needs a checkpoint file");
      load = argv[i];
    } else if (build_option(&c, a)) {
      continue;
    } else if (!strcmp(a, "--cuda")) {
#ifdef NNC_CUDA
      c.co.cuda_arch = nvptx_arch();
#else
      return bad_usage("--cuda: this nnc was built without CUDA support (configure with -DNNC_CUDA=ON)");
#endif
    } else if (!strcmp(a, "--f64")) {
      c.po.f64 = true;
    } else if (!strcmp(a, "--graph")) {
      if (++i >= argc) return bad_usage("--graph needs backward, forward or fused");
      if (strcmp(argv[i], "backward") && strcmp(argv[i], "forward") && strcmp(argv[i], "fused"))
        return bad_usage(arena_printf("--graph: unknown graph '%s' (expected backward, forward or fused)", argv[i]));
      c.dot_graph = argv[i];
    } else if (a[0] == '-' && a[1]) {
      return bad_usage(arena_printf("unknown option '%s'", a));
    } else if (!cmd) {
      cmd = a;
    } else if (!strcmp(cmd, "emit") && !kind) {
      kind = a;
    } else if (!file) {
      file = a;
    } else {
      return bad_usage(arena_printf("unexpected argument '%s'", a));
    }
  }
  if (!cmd) return bad_usage("no command given");
  if (!is_command(cmd) || !strcmp(cmd, "plot")) /* plot: dispatched above */
    return bad_usage(arena_printf("unknown command '%s'", cmd));
  if (!strcmp(cmd, "emit")) {
    if (!kind) return bad_usage("emit needs a KIND");
    if (!passes_known_dump(kind))
      return bad_usage(arena_printf("unknown emit kind '%s' (expected one of: %s)", kind, passes_dump_names()));
    if (!strcmp(kind, "passes")) {
      if (file) return bad_usage("emit passes takes no file");
      passes_print(stdout);
      return 0;
    }
  }
  if (load && (!cmd || strcmp(cmd, "export")))
    return bad_usage("--load goes with nnc export");
  if (c.dot_graph && (!kind || strcmp(kind, "dot")))
    return bad_usage("--graph goes with nnc emit dot");
  if (!file) return bad_usage("no input file");
  c.path = file;

  if (kind && !strcmp(kind, "tokens")) {
    const char *why;
    SrcFile *f = src_load(file, &why);
    if (!f) { fprintf(stderr, "nnc: error: '%s' %s\n", file, why); return 1; }
    lex_dump_tokens(f, stdout);
    return diag_error_count() ? 1 : 0;
  }
  if (!strcmp(cmd, "check")) {
    c.check_only = true;
    return pipeline_run(&c, NULL);
  }
  if (kind) return pipeline_run(&c, kind);
  if (!strcmp(cmd, "export")) {
    if (!load) return bad_usage("export needs --load CKPT (a checkpoint of OUT train --save)");
    if (!c.out) c.out = output_name(file, ".onnx");
    c.export_only = true;
    c.po.grads = false; /* the prediction is forward only */
    int rc = pipeline_run(&c, NULL);
    return rc ? rc : onnx_export(c.p, load, c.out);
  }
  /* build */
  if (!c.out) c.out = output_name(file, "");
  return pipeline_run(&c, NULL);
}

/* nnc gradcheck FILE.nn [--f32] [nnc's build options] [FLAGS]: like
 * PyTorch's gradcheck, in double precision by default — the program and
 * the stdlib built with --f64 into a temporary folder, whose executable's
 * `gradcheck FLAGS` then runs in the current directory (so the program's
 * relative data paths and a --load FILE mean what they do for nnc build's
 * executable).  An f32 checkpoint loads into the f64 build exactly.
 * FLAGS after the file, --help among them, are the executable's. */
static int gradcheck(int argc, char **argv) {
  Compilation c = {.po = {.simplify = true, .fuse = true, .grads = true, .f64 = true},
                   .co = {.opt_level = 2, .split = true}};
  const char **args = arena_alloc((size_t)(argc + 2) * sizeof *args);
  int nargs = 0;
  args[nargs++] = NULL; /* the executable, below */
  args[nargs++] = "gradcheck";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!c.path && (!strcmp(a, "--help") || !strcmp(a, "-h"))) { usage(stdout); return 0; }
    if (!strcmp(a, "--f32")) c.po.f64 = false;
    else if (build_option(&c, a)) continue;
    else if (!c.path && a[0] != '-') c.path = a;
    else args[nargs++] = a;
  }
  args[nargs] = NULL;
  if (!c.path) return bad_usage("gradcheck: no input file");
  const char *tmp = getenv("TMPDIR");
  char *dir = arena_printf("%s/nnc-gradcheck.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "nnc: error: gradcheck: cannot make a folder '%s': %s\n", dir, strerror(errno));
    return 1;
  }
  c.out = arena_printf("%s/program", dir);
  int rc = pipeline_run(&c, NULL);
  if (rc == 0) {
    fflush(NULL);
    args[0] = arena_printf("nnc gradcheck %s", c.path); /* in its messages */
    pid_t pid = fork();
    if (pid == 0) {
      execv(c.out, (char *const *)args);
      fprintf(stderr, "nnc: error: gradcheck: cannot run '%s': %s\n", c.out, strerror(errno));
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
      fprintf(stderr, "nnc: error: gradcheck: cannot run '%s': %s\n", c.out, strerror(errno));
      rc = 1;
    } else {
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  unlink(c.out);
  rmdir(dir);
  return rc;
}
