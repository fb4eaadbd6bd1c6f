/*
 * passes.c — the pipeline as an explicit list of passes, run in order, with
 * the IR verifier between them and a dump after any of them.
 *
 *   parse     read the file and its imports, check declarations  -> the AST
 *   lower     names, static shapes, forward graphs of both kernels
 *   autodiff  the gradient of the loss for every parameter
 *   schedule  a topological order of each kernel's live nodes
 *   fuse      element-wise chains into loop nests
 *   memplan   lifetimes packed into the batch and fixed arenas
 *   checked   unfused copies of both kernels (--check-numerics)
 *   codegen   LLVM IR of every kernel and of the program description
 *   emit      optimised machine code (objects; assembly for a dump)
 *   link      the objects and libnnrt into an executable
 *
 * `nnc emit passes` prints this list; `nnc emit NAME` runs the passes up to
 * NAME and prints what that pass made.  The older dump names are kept as
 * aliases (ast, ir, grad, fused, llvm, asm) with their output unchanged, and
 * two dumps are not a pass of this list: tokens (the lexer alone) and ptx
 * (the GPU kernels, from the state after 'checked').
 *
 * Options are fields of PassOptions handed to each pass, not globals: the
 * rewriter that the graph builders use is installed from them before
 * lowering (shape_set_rewriter), fusion takes its flag as an argument.
 * verify_program runs after each pass from 'lower' on under --verify-each,
 * NNC_VERIFY_EACH=1, or always in a build without NDEBUG.
 */
#include "nnc.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the passes ---------------------------------------------------------- */

/* `-o OUT` may be a new path or a regular file that is none of the
 * program's sources; anything else (a directory, /dev/full, the .nn file
 * itself under another name or through a hard link) is refused before
 * anything is written.  Returns false after saying why. */
static bool output_ok(const char *out, const Module *m) {
  struct stat st;
  if (stat(out, &st) != 0) { /* a new file: its directory must take it */
    const char *slash = strrchr(out, '/');
    const char *dir = !slash ? "." : slash == out ? "/" : arena_strndup(out, (size_t)(slash - out));
    if (access(dir, W_OK | X_OK) == 0) return true;
    fprintf(stderr, "nnc: error: cannot write the executable to '%s': %s\n", out, strerror(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    fprintf(stderr, "nnc: error: cannot write the executable to '%s': it is not a regular file\n", out);
    return false;
  }
  for (int i = 0; m && i < m->nfiles; i++)
    if (m->files[i]->dev == (uint64_t)st.st_dev && m->files[i]->ino == (uint64_t)st.st_ino) {
      fprintf(stderr, "nnc: error: the output '%s' is the source file '%s'; refusing to overwrite it\n", out,
              m->files[i]->path);
      return false;
    }
  return true;
}

static bool run_parse(Compilation *c) {
  const char *why;
  c->m = sema_load(c->path, &why);
  if (!c->m) {
    fprintf(stderr, "nnc: error: '%s' %s\n", c->path, why);
    return false;
  }
  return !c->out || output_ok(c->out, c->m);
}

/* A csr value (a graph(...) field's sparse matrix) holds a CSR, not N·N
 * numbers: spmm is the one op that reads it, and passing it on unchanged
 * (a function's argument) makes no node.  Anything else is the user's
 * error, reported once per kernel where it was written. */
static void check_csr_uses(Kernel *k) {
  kernel_schedule(k);
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (n->op == OP_SPMM) continue;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j]->dt == DT_CSR) {
        diag_error(n->loc, "'%s' cannot read the sparse matrix %s (csr%s): only spmm(a, h) multiplies by it",
                   op_info[n->op].name, n->in[j]->name ? n->in[j]->name : "a", shape_str(&n->in[j]->sh));
        return;
      }
  }
}

static bool run_lower(Compilation *c) {
  if (diag_error_count()) return false; /* the declarations did not check */
  shape_set_rewriter(c->po.simplify ? simplify_rules : NULL);
  c->p = lower_program(c->m);
  if (c->p && !diag_error_count()) {
    check_csr_uses(&c->p->train_k);
    check_csr_uses(&c->p->eval_k);
    for (int i = 1; i < c->p->nobj; i++) check_csr_uses(&c->p->obj_k[i]);
  }
  return c->p && !diag_error_count();
}

static bool run_autodiff(Compilation *c) {
  if (c->po.grads) grad_program(c->p);
  return !diag_error_count();
}

static bool run_schedule(Compilation *c) {
  kernel_schedule(&c->p->train_k);
  kernel_schedule(&c->p->eval_k);
  for (int i = 1; i < c->p->nobj; i++) kernel_schedule(&c->p->obj_k[i]);
  return true;
}

static bool run_fuse(Compilation *c) {
  /* the GPU's batched products read dense operands; NNC_NO_GEMM_VIEWS=1:
   * heads copied out (to compare) */
  const char *no_views = getenv("NNC_NO_GEMM_VIEWS");
  fuse_gemm_views(!c->co.cuda_arch && !(no_views && *no_views == '1'));
  fuse_kernel(&c->p->train_k, c->po.fuse);
  fuse_kernel(&c->p->eval_k, c->po.fuse);
  for (int i = 1; i < c->p->nobj; i++) fuse_kernel(&c->p->obj_k[i], c->po.fuse);
  const char *no_nest = getenv("NNC_NO_NEST"); /* =1: no row nests (to compare) */
  if (c->po.fuse && !(no_nest && *no_nest == '1')) {
    fuse_nests(&c->p->train_k);
    fuse_nests(&c->p->eval_k);
    for (int i = 1; i < c->p->nobj; i++) fuse_nests(&c->p->obj_k[i]);
  }
  return true;
}

static bool run_memplan(Compilation *c) {
  const char *no_in_place = getenv("NNC_NO_IN_PLACE"); /* =1: every value a buffer of its own (to compare) */
  memplan_in_place(!(no_in_place && *no_in_place == '1'));
  memplan_kernel(&c->p->train_k);
  memplan_kernel(&c->p->eval_k);
  for (int i = 1; i < c->p->nobj; i++) memplan_kernel(&c->p->obj_k[i]);
  return program_memory_fits(c->p);
}

/* --check-numerics runs unfused copies, so every op's value is in memory
 * where the check can read it. */
static bool run_checked(Compilation *c) {
  Program *p = c->p;
  p->train_chk = p->train_k;
  p->train_chk.name = "train_checked";
  p->eval_chk = p->eval_k;
  p->eval_chk.name = "eval_checked";
  fuse_kernel(&p->train_chk, false);
  fuse_kernel(&p->eval_chk, false);
  memplan_kernel(&p->train_chk);
  memplan_kernel(&p->eval_chk);
  for (int i = 1; i < p->nobj; i++) { /* the other objectives' train kernels */
    p->obj_chk[i] = p->obj_k[i];
    p->obj_chk[i].name = arena_printf("%s_checked", p->obj_k[i].name);
    fuse_kernel(&p->obj_chk[i], false);
    memplan_kernel(&p->obj_chk[i]);
  }
  return program_memory_fits(p);
}

static bool run_codegen(Compilation *c) {
  c->units = codegen_module(c->p, &c->co);
  return c->units != NULL; /* NULL: a GPU build of an op with no GPU code, reported */
}

/* The temporary files of a build in progress, removed if a signal ends it
 * (unlink is async-signal-safe; the list is complete before it is set). */
static const char **volatile tmp_paths;
static volatile int ntmp_paths;

static void remove_tmp_and_die(int sig) {
  for (int i = 0; i < ntmp_paths; i++) unlink(tmp_paths[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void cleanup_on_signal(const char **paths, int n) {
  tmp_paths = paths;
  ntmp_paths = n;
  int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++) signal(sigs[i], remove_tmp_and_die);
}

/* Objects next to the output (or, for a dump, one assembly file).  They and
 * the executable are written under temporary names (objs[nobjs] is the
 * executable's); link renames the executable onto OUT only once it is
 * whole, so a failed or interrupted build leaves an older OUT as it was,
 * and no litter. */
static bool run_emit(Compilation *c) {
  if (c->assembly) {
    static char tmp[] = "/tmp/nnc-asm-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) { perror("nnc: mkstemp"); return false; }
    close(fd);
    c->asm_path = tmp;
    if (codegen_emit(c->units, &c->co, (const char *[]){tmp}, true)) { unlink(tmp); return false; }
    return true;
  }
  c->nobjs = codegen_units(c->units);
  c->objs = arena_alloc(sizeof *c->objs * (c->nobjs + 1));
  for (int i = 0; i < c->nobjs; i++) c->objs[i] = arena_printf("%s.o.tmp%d.%d", c->out, (int)getpid(), i);
  c->objs[c->nobjs] = arena_printf("%s.tmp%d", c->out, (int)getpid());
  cleanup_on_signal(c->objs, c->nobjs + 1);
  if (codegen_emit(c->units, &c->co, c->objs, false)) {
    for (int i = 0; i <= c->nobjs; i++) unlink(c->objs[i]);
    return false;
  }
  return true;
}

static bool run_link(Compilation *c) {
  const char *exe = c->objs[c->nobjs];
  int rc = link_executable(c->objs, c->nobjs, exe, c->out);
  if (!rc && rename(exe, c->out) != 0) {
    fprintf(stderr, "nnc: error: cannot write the executable to '%s': %s\n", c->out, strerror(errno));
    rc = -1;
  }
  for (int i = 0; i <= c->nobjs; i++) unlink(c->objs[i]);
  return rc == 0;
}

/* ---- what each pass shows ------------------------------------------------- */

static int dump_ast(Compilation *c, FILE *out) {
  Ast prog = {.kind = AST_PROGRAM};
  for (int i = 0; i < c->m->nitems; i++) /* the main file's items; imports stay out */
    if (c->m->items[i]->loc.file && !strcmp(c->m->items[i]->loc.file->path, c->m->main_path))
      ast_add(&prog, c->m->items[i]);
  ast_dump(&prog, out);
  return 0;
}

/* Before 'schedule' a kernel is its outputs: show them in the order a
 * schedule of a copy would compute them. */
static void print_unscheduled(const Kernel *k, FILE *out) {
  Kernel copy = *k;
  kernel_schedule(&copy);
  kernel_print(&copy, out, false);
}
static int dump_lowered(Compilation *c, FILE *out) {
  print_unscheduled(&c->p->train_k, out);
  print_unscheduled(&c->p->eval_k, out);
  return 0;
}
static int dump_autodiff(Compilation *c, FILE *out) {
  print_unscheduled(&c->p->train_k, out);
  for (int i = 1; i < c->p->nobj; i++) print_unscheduled(&c->p->obj_k[i], out);
  return 0;
}
static int dump_schedule(Compilation *c, FILE *out) {
  kernel_print(&c->p->train_k, out, false);
  for (int i = 1; i < c->p->nobj; i++) kernel_print(&c->p->obj_k[i], out, false);
  kernel_print(&c->p->eval_k, out, false);
  return 0;
}
static int dump_fused(Compilation *c, FILE *out) {
  fuse_print(&c->p->train_k, out);
  for (int i = 1; i < c->p->nobj; i++) fuse_print(&c->p->obj_k[i], out);
  fuse_print(&c->p->eval_k, out);
  return 0;
}
static int dump_memplan(Compilation *c, FILE *out) {
  memplan_print(&c->p->train_k, c->p->batch, out);
  memplan_print(&c->p->eval_k, c->p->batch, out);
  return 0;
}
static int dump_checked(Compilation *c, FILE *out) {
  fuse_print(&c->p->train_chk, out);
  fuse_print(&c->p->eval_chk, out);
  return 0;
}
static int dump_llvm(Compilation *c, FILE *out) { return codegen_print_ir(c->units, &c->co, out); }
static int dump_asm(Compilation *c, FILE *out) {
  FILE *f = fopen(c->asm_path, "r");
  char buf[65536];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, out);
  if (f) fclose(f);
  unlink(c->asm_path);
  return f ? 0 : 1;
}
/* Legacy dumps: the final graph of one kernel (emit ir runs without the
 * autodiff pass, so the training kernel is the forward one). */
static int dump_ir(Compilation *c, FILE *out) {
  kernel_print(&c->p->eval_k, out, false);
  return 0;
}
static int dump_grad(Compilation *c, FILE *out) {
  kernel_print(&c->p->train_k, out, false);
  return 0;
}
static int dump_dot(Compilation *c, FILE *out) {
  const char *g = c->dot_graph ? c->dot_graph : "backward";
  if (!strcmp(g, "forward")) kernel_dot(&c->p->eval_k, out, false);
  else kernel_dot(&c->p->train_k, out, !strcmp(g, "fused"));
  return 0;
}
static int dump_ptx(Compilation *c, FILE *out) {
  char *ptx = nvptx_emit(c->p, nvptx_arch(), c->co.opt_level);
  if (!ptx) return 1;
  fputs(ptx, out);
  return 0;
}

static const Pass pass_list[] = {
  {"parse", "read the file and its imports; check declarations (lex.l parse.y sema.c)", run_parse, dump_ast, -1},
  {"lower", "names, static shapes, the forward graphs of the training and inference kernels (lower.c shape.c)",
   run_lower, dump_lowered, VS_LOWERED},
  {"autodiff", "the gradient of the loss for every parameter, derived from the forward graph (grad.c)", run_autodiff,
   dump_autodiff, VS_LOWERED},
  {"schedule", "a topological order of each kernel's live nodes (graph.c)", run_schedule, dump_schedule,
   VS_SCHEDULED},
  {"fuse", "element-wise chains and their closing reductions into one loop nest each (fuse.c)", run_fuse,
   dump_fused, VS_FUSED},
  {"memplan", "buffer lifetimes packed into the batch and fixed arenas (memplan.c)", run_memplan, dump_memplan,
   VS_PLANNED},
  {"checked", "unfused copies of both kernels that --check-numerics runs (fuse.c memplan.c)", run_checked,
   dump_checked, VS_PLANNED},
  {"codegen", "LLVM IR of every kernel and of the program description (codegen/llvm.c)", run_codegen, dump_llvm,
   -1},
  {"emit", "optimised x86-64 code: one object per unit, compiled in parallel (LLVM)", run_emit, dump_asm, -1},
  {"link", "the objects and libnnrt into an executable (link.c)", run_link, NULL, -1},
};
enum { NPASSES = sizeof pass_list / sizeof pass_list[0] };

/* Dump names that are not a pass's own: the pass after which they print. */
static const struct Alias { const char *name, *after; int (*dump)(Compilation *, FILE *); bool grads; } aliases[] = {
  {"ast", "parse", dump_ast, true},
  {"ir", "checked", dump_ir, false},
  {"grad", "checked", dump_grad, true},
  {"fused", "fuse", dump_fused, true},
  {"dot", "fuse", dump_dot, true},
  {"llvm", "codegen", dump_llvm, true},
  {"asm", "emit", dump_asm, true},
  {"ptx", "checked", dump_ptx, true},
};

static int pass_index(const char *name) {
  for (int i = 0; i < NPASSES; i++)
    if (!strcmp(pass_list[i].name, name)) return i;
  return -1;
}

bool passes_known_dump(const char *kind) {
  if (!strcmp(kind, "tokens") || !strcmp(kind, "passes")) return true;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (!strcmp(aliases[i].name, kind)) return true;
  int i = pass_index(kind);
  return i >= 0 && pass_list[i].dump;
}

const char *passes_dump_names(void) {
  char *s = "tokens";
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) s = arena_printf("%s %s", s, aliases[i].name);
  for (int i = 0; i < NPASSES; i++)
    if (pass_list[i].dump) s = arena_printf("%s %s", s, pass_list[i].name);
  return arena_printf("%s passes", s);
}

void passes_print(FILE *out) {
  fprintf(out, "the passes of nnc, in order (nnc emit NAME FILE.nn prints what NAME made):\n");
  for (int i = 0; i < NPASSES; i++)
    fprintf(out, "  %2d %-9s %s%s\n", i + 1, pass_list[i].name, pass_list[i].what, pass_list[i].dump ? "" : " [no dump]");
  fprintf(out, "other dumps: tokens (the lexer alone)");
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    fprintf(out, ", %s (after %s)", aliases[i].name, aliases[i].after);
  fprintf(out, "\nthe IR verifier runs after every pass from 'lower' on with --verify-each%s\n",
#ifdef NDEBUG
          ""
#else
          " (always in this debug build)"
#endif
  );
}

/* NNC_TIME=1: wall and CPU time of each pass, on stderr (the CPU time
 * includes the linker's).  NULL starts the clock. */
static void pass_time(const char *name) {
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
  if (name) fprintf(stderr, "nnc: time: %-14s %7.1f ms wall %7.1f ms CPU\n", name, wall - wall0, cpu - cpu0);
  wall0 = wall;
  cpu0 = cpu;
}

int pipeline_run(Compilation *c, const char *dump) {
  int last = NPASSES - 1;
  int (*show)(Compilation *, FILE *) = NULL;
  if (dump) {
    const struct Alias *a = NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
      if (!strcmp(aliases[i].name, dump)) a = &aliases[i];
    last = pass_index(a ? a->after : dump);
    if (last < 0) nnc_unreachable("no pass for the dump '%s'", dump);
    show = a ? a->dump : pass_list[last].dump;
    if (a && !a->grads) c->po.grads = false;
    c->assembly = pass_list[last].run == run_emit;
    c->co.split = false; /* llvm/asm dumps: one module, as one listing */
  }
#ifndef NDEBUG
  c->po.verify_each = true;
#endif
  const char *env = getenv("NNC_VERIFY_EACH");
  if (env && *env && strcmp(env, "0")) c->po.verify_each = true;
  graph_set_f64(c->po.f64);
  const char *sc = getenv("NNC_SCAN");
  bool want_scan = c->po.scan > 0 || (c->po.scan == 0 && !(sc && !strcmp(sc, "0")));
  scan_enabled = want_scan && !c->co.cuda_arch && !c->export_only; /* the GPU backend and ONNX unroll */
  const char *sv = getenv("NNC_SCAN_SAVE"), *sh = getenv("NNC_SCAN_HOIST");
  scan_remat = !(sv && !strcmp(sv, "0"));
  scan_hoist = !(sh && !strcmp(sh, "0"));
  pass_time(NULL);
  for (int i = 0; i <= last; i++) {
    const Pass *ps = &pass_list[i];
    diag_set_pass(ps->name, false);
    bool ok = ps->run(c);
    pass_time(ps->name);
    if (!ok) return 1;
    if (c->po.verify_each && ps->verify >= 0 && c->p) {
      diag_set_pass(ps->name, true);
      verify_program(c->p, (VerifyStage)ps->verify);
    }
    diag_set_pass(NULL, false);
    if (i == pass_index("checked")) lower_data_warnings();
    if (c->check_only && i == pass_index("checked")) return 0;
    if (c->export_only && i == pass_index("lower")) return 0;
  }
  if (show) {
    int rc = show(c, stdout);
    if (!strcmp(dump, "ast") || !strcmp(dump, "parse")) rc = rc || diag_error_count();
    return rc ? 1 : 0;
  }
  return 0;
}
