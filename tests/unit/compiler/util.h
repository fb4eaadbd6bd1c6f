/*
 * util.h — helpers shared by the compiler's unit tests: shapes and leaves
 * from short strings, an expression printer that makes a derived graph
 * readable in an assertion, kernels from a list of outputs, and a way to
 * expect an internal compiler error (nnc_unreachable exits, so the call runs
 * in a child process).
 *
 * Every test binary shares one interning table for its whole run (graph.c
 * has no reset; arena_reset would leave it dangling), so tests never assume
 * particular node ids, only pointers and shapes.
 */
#ifndef NNC_TEST_UTIL_H
#define NNC_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "nnc.h"

/* "2,3" -> [2, 3]; "B,784" -> [B, 784]; "4B" -> [4*B]; "" -> scalar. */
Shape S(const char *spec);
/* Leaves.  One slot per distinct name, so P("w", "3") twice is one node. */
Node *P(const char *name, const char *shape);                 /* f32 param */
Node *Pd(const char *name, Dtype dt, const char *shape);      /* any dtype */
Node *I(const char *name, Dtype dt, const char *shape);       /* input */
Node *C(double v);                                            /* f32 scalar */

/* The expression under n in prefix form, leaves by name:
 *   (mul G (sub 1 (mul (tanh x) (tanh x))))
 * Constants print as numbers (1/B, 2*B^1 with a batch power, [shape] when
 * not scalar); move ops, reductions and attributes print what tells them
 * apart: (sum x axes=0), (reshape x [3]), (matmul a b trans=b). */
const char *E(const Node *n);

/* The compiler's switches, in one place: the pass manager's options (the
 * builders' rewriter, fuse_kernel's flag), set as passes.c sets them.
 * Every main passes setup_compiler to cmocka_run_group_tests. */
void set_simplify(bool on);
void fuse_with(Kernel *k, bool on);
int setup_compiler(void **state); /* the builders simplify, as in nnc */

/* A kernel over the given outputs (NULL-terminated), scheduled. */
Kernel *kernel_of(const char *name, Node *out, ...);

/* Run fn(arg) in a child: it must stop with an internal compiler error
 * (exit status 70) whose message contains want. */
void expect_ice(void (*fn)(void *), void *arg, const char *want);

/* The message of the last failed shape rule contains want. */
#define assert_shape_error(want) assert_non_null(strstr(shape_error(), (want)))

#endif
