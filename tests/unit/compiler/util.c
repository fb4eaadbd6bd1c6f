/*
 * util.c — helpers for the compiler unit tests (see util.h).
 */
#include "util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

Shape S(const char *spec) {
  Shape s = {0};
  const char *p = spec;
  while (*p) {
    Dim d = {1, 0};
    if (isdigit((unsigned char)*p)) d.k = strtoll(p, (char **)&p, 10);
    if (*p == 'B') { d.b = 1; p++; }
    assert_true(s.rank < MAX_RANK);
    s.d[s.rank++] = d;
    while (*p == ',' || *p == ' ') p++;
  }
  return s;
}

static int slot_of(const char *name) {
  static const char *names[256];
  static int n;
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return i;
  assert_true(n < 256);
  names[n] = arena_strdup(name);
  return n++;
}

Node *Pd(const char *name, Dtype dt, const char *shape) { return g_param(name, slot_of(name), dt, S(shape)); }
Node *P(const char *name, const char *shape) { return Pd(name, DT_F32, shape); }
Node *I(const char *name, Dtype dt, const char *shape) { return g_input(name, slot_of(name), dt, S(shape)); }
Node *C(double v) { return g_scalar(v, DT_F32); }

static const char *const_str(const Node *n) {
  const char *v;
  if (n->bpow == 0) v = arena_printf("%.9g", n->fv);
  else if (n->bpow == -1) v = arena_printf("%.9g/B", n->fv);
  else v = arena_printf("%.9g*B^%d", n->fv, n->bpow);
  return n->sh.rank ? arena_printf("%s%s", v, shape_str(&n->sh)) : v;
}

static const char *ints(const Node *n, int count) {
  const char *s = "";
  for (int i = 0; i < count; i++) s = arena_printf("%s%s%lld", s, i ? "," : "", (long long)n->ia[i]);
  return s;
}

const char *E(const Node *n) {
  if (!n) return "NULL";
  switch (n->op) {
  case OP_PARAM: case OP_STATE: case OP_INPUT: return n->name;
  case OP_CONST: return const_str(n);
  default: break;
  }
  const char *s = arena_printf("(%s", op_info[n->op].name);
  if (n->op == OP_CAST) s = arena_printf("%s:%s", s, dtype_name(n->dt));
  for (int i = 0; i < n->nin; i++) s = arena_printf("%s %s", s, E(n->in[i]));
  switch (n->op) {
  case OP_SUM: case OP_MAX: {
    const char *axes = "";
    for (int i = 0; i < n->in[0]->sh.rank; i++)
      if (n->ia[0] >> i & 1) axes = arena_printf("%s%s%d", axes, *axes ? "," : "", i);
    s = arena_printf("%s axes=%s", s, axes);
    break;
  }
  case OP_MATMUL:
    if (n->ia[0] || n->ia[1]) s = arena_printf("%s trans=%s%s", s, n->ia[0] ? "a" : "", n->ia[1] ? "b" : "");
    break;
  case OP_RESHAPE: case OP_BROADCAST: s = arena_printf("%s %s", s, shape_str(&n->sh)); break;
  case OP_TRANSPOSE: s = arena_printf("%s perm=%s", s, ints(n, n->sh.rank)); break;
  case OP_SLICE: case OP_PAD: s = arena_printf("%s start=%s %s", s, ints(n, n->sh.rank), shape_str(&n->sh)); break;
  case OP_CONCAT: s = arena_printf("%s axis=%lld", s, (long long)n->ia[0]); break;
  case OP_LEAKY_RELU: s = arena_printf("%s slope=%.9g", s, n->fv); break;
  case OP_ELU: s = arena_printf("%s alpha=%.9g", s, n->fv); break;
  case OP_ONEHOT: s = arena_printf("%s %lld", s, (long long)n->sh.d[n->sh.rank - 1].k); break;
  default: break;
  }
  return arena_printf("%s)", s);
}

void set_simplify(bool on) { shape_set_rewriter(on ? simplify_rules : NULL); }

void fuse_with(Kernel *k, bool on) { fuse_kernel(k, on); }

int setup_compiler(void **state) {
  (void)state;
  set_simplify(true);
  return 0;
}

Kernel *kernel_of(const char *name, Node *out, ...) {
  Kernel *k = arena_alloc(sizeof *k);
  k->name = name;
  va_list ap;
  va_start(ap, out);
  for (Node *n = out; n; n = va_arg(ap, Node *))
    kernel_add_out(k, n, k->nouts, arena_printf("out%d", k->nouts));
  va_end(ap);
  kernel_schedule(k);
  return k;
}

void expect_ice(void (*fn)(void *), void *arg, const char *want) {
  FILE *msg = tmpfile();
  assert_non_null(msg);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    diag_set_stream(msg);
    fn(arg);
    _exit(0); /* returned: the invariant was not caught */
  }
  int status = 0;
  assert_true(waitpid(pid, &status, 0) == pid);
  char text[1024] = {0};
  rewind(msg);
  size_t len = fread(text, 1, sizeof text - 1, msg);
  text[len] = 0;
  fclose(msg);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 70 || !strstr(text, want) ||
      !strstr(text, "internal compiler error"))
    fail_msg("expected an internal compiler error containing \"%s\"; the child %s %d and printed \"%s\"", want,
             WIFEXITED(status) ? "exited with" : "was killed by signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), text);
}
