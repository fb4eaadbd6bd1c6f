/*
 * main.c — the driver: the pipeline as a list of calls, with a dump after
 * any phase (`nnc emit KIND`).
 *
 *   load + parse + imports (sema.c)  -> emit tokens / ast
 *   lower: shapes, graph, autodiff, simplify (lower.c grad.c simplify.c)
 *                                    -> emit ir (forward) / grad (training step)
 *   codegen (codegen/llvm.c)         -> emit llvm / asm
 *   GPU kernels (codegen/nvptx.c)    -> emit ptx; nnc build --cuda embeds them
 *   object + link (link.c)           -> nnc build
 *
 * Exit codes: 0 success, 1 errors in the user's program, 2 bad usage,
 * 70 internal compiler error.  NNC_TIME=1 prints each phase's time.
 */
#include "nnc.h"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f) {
  fprintf(f,
          "usage: nnc build FILE.nn [-o OUT] [-O0|-O1|-O2|-O3]   compile to a native executable\n"
          "       nnc check FILE.nn                             report diagnostics only\n"
          "       nnc emit KIND FILE.nn [-O0..-O3]               dump a phase to stdout\n"
          "             KIND: tokens ast ir grad fused memplan llvm asm ptx\n"
          "       nnc --help | --version\n"
          "options: --no-simplify   build the graph without algebraic rewrites\n"
          "         --no-fuse       one loop per op (no operator fusion)\n"
          "         --cuda          also embed GPU kernels (PTX for $NNC_CUDA_ARCH, default sm_80);\n"
          "                         the executable then takes --device cuda\n"
          "The executable it builds: OUT train|eval|info|gradcheck [--help]\n");
}

static int bad_usage(const char *msg) {
  fprintf(stderr, "nnc: error: %s\n", msg);
  usage(stderr);
  return 2;
}

int plot_main(int argc, char **argv); /* plot_main.c */

/* NNC_TIME=1: wall and CPU time of each phase since the last, on stderr
 * (the CPU time includes the linker's).  NULL starts the clock. */
static void phase_done(const char *phase) {
  static double wall0, cpu0;
  if (!getenv("NNC_TIME")) return;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  double wall = t.tv_sec * 1e3 + t.tv_nsec / 1e6, cpu = 0;
  struct rusage ru[2];
  getrusage(RUSAGE_SELF, &ru[0]);
  getrusage(RUSAGE_CHILDREN, &ru[1]);
  for (int i = 0; i < 2; i++)
    cpu += (ru[i].ru_utime.tv_sec + ru[i].ru_stime.tv_sec) * 1e3 + (ru[i].ru_utime.tv_usec + ru[i].ru_stime.tv_usec) / 1e3;
  if (phase) fprintf(stderr, "nnc: time: %-14s %7.1f ms wall %7.1f ms CPU\n", phase, wall - wall0, cpu - cpu0);
  wall0 = wall;
  cpu0 = cpu;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "plot")) return plot_main(argc - 1, argv + 1);
  const char *cmd = NULL, *kind = NULL, *file = NULL, *out = NULL;
  CodegenOptions opts = {.opt_level = 2};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
    if (!strcmp(a, "--version")) { printf("nnc %s (LLVM C API, x86-64)\n", NNC_VERSION); return 0; }
    if (!strcmp(a, "-o")) {
      if (++i >= argc) return bad_usage("-o needs a file name");
      out = argv[i];
    } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
      opts.opt_level = a[2] - '0';
    } else if (!strcmp(a, "--cuda")) {
#ifdef NNC_CUDA
      opts.cuda_arch = nvptx_arch();
#else
      return bad_usage("--cuda: this nnc was built without CUDA support (configure with -DNNC_CUDA=ON)");
#endif
    } else if (!strcmp(a, "--no-fuse")) {
      fusion_enabled = false;
    } else if (!strcmp(a, "--no-simplify")) {
      simplify_enabled = false;
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
  if (strcmp(cmd, "build") && strcmp(cmd, "check") && strcmp(cmd, "emit"))
    return bad_usage(arena_printf("unknown command '%s'", cmd));
  static const char *kinds[] = {"tokens", "ast", "ir", "grad", "fused", "memplan", "llvm", "asm", "ptx", NULL};
  if (!strcmp(cmd, "emit")) {
    if (!kind) return bad_usage("emit needs a KIND");
    bool ok = false;
    for (int i = 0; kinds[i]; i++) ok = ok || !strcmp(kinds[i], kind);
    if (!ok) return bad_usage(arena_printf("unknown emit kind '%s' (expected tokens, ast, ir, grad, llvm, asm or ptx)", kind));
  }
  if (!file) return bad_usage("no input file");

  if (kind && !strcmp(kind, "tokens")) {
    SrcFile *f = src_load(file);
    if (!f) { fprintf(stderr, "nnc: error: cannot read '%s'\n", file); return 1; }
    lex_dump_tokens(f, stdout);
    return diag_error_count() ? 1 : 0;
  }
  phase_done(NULL);
  Module *m = sema_load(file);
  phase_done("parse+sema");
  if (!m) { fprintf(stderr, "nnc: error: cannot read '%s'\n", file); return 1; }
  if (kind && !strcmp(kind, "ast")) {
    for (int i = 0; i < m->nitems; i++) {
      Ast *it = m->items[i];
      if (it->loc.file && strcmp(it->loc.file->path, m->main_path)) continue; /* imports stay out */
    }
    Ast prog = {.kind = AST_PROGRAM};
    for (int i = 0; i < m->nitems; i++)
      if (m->items[i]->loc.file && !strcmp(m->items[i]->loc.file->path, m->main_path)) ast_add(&prog, m->items[i]);
    ast_dump(&prog, stdout);
    return diag_error_count() ? 1 : 0;
  }
  if (diag_error_count()) return 1;
  bool grads = !kind || strcmp(kind, "ir") != 0;
  Program *p = lower_program(m, grads);
  phase_done("lower");
  if (!p || diag_error_count()) return 1;
  if (!strcmp(cmd, "check")) return 0;
  if (kind && !strcmp(kind, "ir")) { kernel_print(&p->eval_k, stdout, false); return 0; }
  if (kind && !strcmp(kind, "grad")) { kernel_print(&p->train_k, stdout, false); return 0; }
  if (kind && !strcmp(kind, "memplan")) {
    memplan_print(&p->train_k, p->batch, stdout);
    memplan_print(&p->eval_k, p->batch, stdout);
    return 0;
  }
  if (kind && !strcmp(kind, "fused")) {
    fuse_print(&p->train_k, stdout);
    fuse_print(&p->eval_k, stdout);
    return 0;
  }
  if (kind && !strcmp(kind, "ptx")) {
    char *ptx = nvptx_emit(p, nvptx_arch(), opts.opt_level);
    if (!ptx) return 1;
    fputs(ptx, stdout);
    return 0;
  }
  opts.split = !kind; /* emit llvm/asm: one module, as one listing */
  void *mod = codegen_module(p, &opts);
  phase_done("llvm ir");
  if (!mod) return 1; /* a GPU build of an op with no GPU code, reported */
  if (kind && !strcmp(kind, "llvm")) return codegen_print_ir(mod, &opts, stdout);
  if (kind && !strcmp(kind, "asm")) {
    char tmp[] = "/tmp/nnc-asm-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) { perror("nnc: mkstemp"); return 1; }
    close(fd);
    if (codegen_emit(mod, &opts, (const char *[]){tmp}, true)) { unlink(tmp); return 1; }
    FILE *f = fopen(tmp, "r");
    char buf[65536];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    if (f) fclose(f);
    unlink(tmp);
    return 0;
  }
  /* build */
  if (!out) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char *o = arena_strdup(base);
    char *dot = strrchr(o, '.');
    if (dot && !strcmp(dot, ".nn")) *dot = 0;
    else o = arena_printf("%s.out", o);
    out = o;
  }
  int nobj = codegen_units(mod);
  const char **objs = arena_alloc(sizeof *objs * nobj);
  for (int i = 0; i < nobj; i++) objs[i] = arena_printf("%s.o.tmp%d.%d", out, (int)getpid(), i);
  int rc = codegen_emit(mod, &opts, objs, false);
  phase_done("llvm opt+obj");
  if (!rc) rc = link_executable(objs, nobj, out);
  phase_done("link");
  for (int i = 0; i < nobj; i++) unlink(objs[i]);
  return rc ? 1 : 0;
}
