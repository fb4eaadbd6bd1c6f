/*
 * nnc.h — the compiler's internal declarations, one section per phase in
 * pipeline order: arena, diagnostics, AST (lex.l parse.y ast.c), semantic
 * loading (sema.c), graph IR (graph.c verify.c), shapes (shape.c), lowering
 * (lower.c), autodiff (grad.c), simplification (simplify.c), codegen and link.
 *
 * Invariants: everything the compiler builds lives in one arena and is
 * freed at exit as a whole; no IR node is freed one at a time.  User errors
 * go through diag_error and never abort; compiler bugs go through
 * nnc_unreachable and say so.
 */
#ifndef NNC_H
#define NNC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NNC_VERSION "0.1.0"

/* ---- arena.c ---------------------------------------------------------- */

void *arena_alloc(size_t n); /* zeroed, 16-byte aligned, never NULL */
char *arena_strdup(const char *s);
char *arena_strndup(const char *s, size_t n);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Append x to a growable array of pointers living in the arena. */
void arena_push(void ***items, int *n, int *cap, void *x);
/* Free everything allocated so far (one chunk is kept, zeroed, for reuse):
 * every arena pointer dies.  For fuzz targets, between inputs. */
void arena_reset(void);
/* A point to free back to: arena_release frees everything allocated after
 * arena_mark (and zeroes it), keeping what came before; for a fuzz target
 * that keeps the stdlib's parse across inputs.  Marks nest like a stack. */
typedef struct ArenaMark { void *chunk, *next; size_t used; } ArenaMark;
ArenaMark arena_mark(void);
void arena_release(ArenaMark m);
#define PUSH(arr, n, cap, x) arena_push((void ***)&(arr), &(n), &(cap), (void *)(x))

/* ---- diag.c ----------------------------------------------------------- */

typedef struct SrcFile {
  const char *path; /* as given on the command line or resolved import */
  const char *text; /* whole file, NUL-terminated */
  size_t len;
  uint64_t dev, ino; /* the file's identity on disk (0, 0 for text in memory) */
} SrcFile;

typedef struct Loc {
  const SrcFile *file; /* NULL for compiler-made nodes */
  int line, col;       /* 1-based */
} Loc;

/* Read a regular file whole.  NULL if it cannot be read, with *why (if
 * why is given) finishing the sentence "'PATH' ...": "is not a regular
 * file", "is too large (...)", "cannot be read: No such file or
 * directory".  Nothing is printed. */
SrcFile *src_load(const char *path, const char **why);
SrcFile *src_from_string(const char *path, const char *text);

/* `file:line:col: error: msg`, then the source line and a caret under col. */
void diag_error(Loc at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_note(Loc at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_warning(Loc at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int diag_error_count(void);
void diag_reset(void); /* forget every error so far (fuzz targets, between inputs) */
/* "Did you mean": offer candidates one by one, the most fitting kind
 * first; suggest_pick gives the nearest by edit distance (insertions,
 * deletions, substitutions and swaps of neighbours; the first
 * offered on a tie) when it is within max(1, len/3) edits and the name is
 * longer than the distance (a one-letter name gets no suggestion), else
 * NULL.  Callers ask again with another kind only when the first gives
 * nothing, so a variable is never proposed where a function fits. */
typedef struct Suggest { const char *name; const char *pick; int dist; } Suggest;
void suggest_init(Suggest *s, const char *name);
void suggest_offer(Suggest *s, const char *candidate);
const char *suggest_pick(const Suggest *s);

/* Inlining in progress: while a function or model from another file is
 * being expanded, an error inside it is followed by one note per call
 * site, innermost first, ending at the user's line ("in expansion of
 * `Dense`").  Push before lowering the body, pop after. */
void diag_push_expansion(Loc site, const char *what);
void diag_pop_expansion(void);
/* Where diagnostics go (stderr by default; tests may redirect). */
void diag_set_stream(FILE *f);

/* A compiler bug, not the user's fault: prints "internal compiler error"
 * with the C location and exits with status 70. */
_Noreturn void nnc_unreachable_at(const char *file, int line, const char *fmt, ...);
/* The pass running (or just verified, verifying = true), named by an
 * internal compiler error; NULL outside the pipeline. */
void diag_set_pass(const char *pass, bool verifying);
#define nnc_unreachable(...) nnc_unreachable_at(__FILE__, __LINE__, __VA_ARGS__)
#define nnc_assert(c) \
  ((c) ? (void)0 : nnc_unreachable_at(__FILE__, __LINE__, "assertion failed: %s", #c))

/* ---- the AST (ast.c; built by parse.y) -------------------------------- */

typedef enum {
  DT_F32 = 0, DT_F64 = 1, DT_I32 = 2, DT_BOOL = 3,
  /* a sparse matrix of the program's float type in CSR form (`csr[N, N]`):
   * only a graph(...) field has it, only spmm reads it */
  DT_CSR = 4,
  /* `float[...]` in a declaration: the element type of the model instance
   * it is lowered for (§4.1); only the AST has it, lowering resolves it */
  DT_FLOAT = 5,
} Dtype;
const char *dtype_name(Dtype d);
/* Bytes of one element (DT_BOOL: one byte). */
static inline int dtype_bytes(Dtype d) { return d == DT_F64 ? 8 : d == DT_BOOL ? 1 : 4; }

typedef enum {
  /* top level */
  AST_PROGRAM,  /* list: top-level items in source order */
  AST_IMPORT,   /* name: the imported path as written ("nn" or "x/y.nn") */
  AST_MODEL,    /* name; args: constructor params (AST_ARG); list: items;
                   b: the declared element type (`model M: f64`, an AST_TYPE) or NULL */
  AST_FN,       /* name; args: params (AST_ARG); a: return type or NULL; list: body */
  AST_DATA,     /* name; list: AST_FIELD */
  AST_TRAIN,    /* name: model; name2: data source; list: statements / AST_STEP */
  AST_CONST,    /* name; a: value */
  /* inside models, data, params */
  AST_PARAM,    /* name; a: type; b: initialiser expr or NULL */
  AST_STATE,    /* name; a: type; b: initialiser expr or NULL (non-trainable) */
  AST_LAYER,    /* name; a: constructor call, e.g. Dense(784, 256) */
  AST_ARG,      /* name; a: type or NULL (fn param / ctor param) */
  AST_FIELD,    /* name; a: per-sample type or NULL; b: source expr; op: 1 if `test` */
  AST_TYPE,     /* op: Dtype; args: dims (exprs: AST_NUM, AST_NAME, arithmetic);
                   op2: 1 for the scalar types `int`/`float` of ctor params */
  /* statements */
  AST_ASSIGN,   /* name; a: value */
  AST_RETURN,   /* a: value */
  AST_EXPR_STMT,/* a: expr */
  AST_MINIMIZE, /* a: loss; args: wrt list (exprs; none: every param); b: optimizer expr */
  AST_FOR,      /* name: loop var; a: lo; b: hi (exclusive); list: body */
  AST_STEP,     /* list: body of a custom training step */
  AST_IF,       /* a: condition (compile-time); list: then-body; args: else-body */
  AST_METRIC,   /* name; a: value (a train block's `metric NAME = EXPR;`) */
  /* expressions */
  AST_NUM,      /* num; is_int and ival for an integer literal */
  AST_STR,      /* name: contents, escapes resolved */
  AST_NAME,     /* name */
  AST_BINOP,    /* op: one of '+' '-' '*' '/' '@' '^' (for **) '<' '>' or TK_EQ...; a, b */
  AST_UNOP,     /* op: '-'; a */
  AST_CALL,     /* a: callee (AST_NAME or AST_MEMBER); args: AST_KWARG or exprs */
  AST_KWARG,    /* name; a: value */
  AST_MEMBER,   /* a: object; name: member */
  AST_INDEX,    /* a: object; args: exprs or AST_SLICE */
  AST_SLICE,    /* a: lo or NULL; b: hi or NULL */
  AST_LIST,     /* args: elements ([1, 2], [[0, 1], [1, 0]]) */
  AST__COUNT
} AstKind;

/* Binary operator codes beyond single characters. */
enum { OPC_EQ = 256, OPC_NE, OPC_LE, OPC_GE };

typedef struct Ast Ast;
struct Ast {
  AstKind kind;
  Loc loc;      /* where the construct starts (operators: the operator) */
  Loc end;      /* closing '}' of blocks, if any */
  const char *name;
  const char *name2;
  double num;
  int64_t ival;  /* AST_NUM with is_int: the exact value */
  bool is_int;
  int op, op2;
  int height;   /* expressions: 1 + the tallest operand (see NNC_MAX_HEIGHT) */
  Ast *a, *b;
  Ast **list; int nlist, caplist;
  Ast **args; int nargs, capargs;
};

/* The tallest expression tree nnc accepts.  Bison bounds nesting that
 * needs its stack (parentheses, right operands: 10000), but not a left-
 * leaning chain such as a + a + ... + a, which every later pass walks
 * recursively; past this height it is an error at the operator.  The
 * driver runs the compiler on a stack sized for it (main.c). */
#define NNC_MAX_HEIGHT 100000
Ast *ast_new(AstKind k, Loc loc);
void ast_add(Ast *parent, Ast *child);     /* append to list */
void ast_add_arg(Ast *parent, Ast *child); /* append to args */
const char *ast_kind_name(AstKind k);
void ast_dump(const Ast *prog, FILE *out); /* `nnc emit ast` */
void ast_print_expr(const Ast *e, FILE *out); /* source-like, one line */

/* Constructors, one per production shape, so that each action in parse.y
 * is one call.  A "seq" is a throwaway holder (an AST_LIST) for a sequence
 * while it is parsed; the constructors take its elements over.  NULL items
 * (what an error production yields) are skipped. */
Ast *ast_seq(void);
Ast *ast_seq_add(Ast *seq, Ast *item);    /* returns seq */
Ast *ast_seq_end(Ast *seq, Loc closing);  /* records the closing '}' */
Ast *ast_node(AstKind k, Loc at, const char *name, Ast *a, Ast *b);
Ast *ast_fn(Loc at, const char *name, Ast *params, Ast *ret, Ast *body);
Ast *ast_model(Loc at, const char *name, Ast *params, Ast *elem, Ast *members);
Ast *ast_data(Loc at, const char *name, Ast *fields);
Ast *ast_train(Loc at, const char *model, const char *data, Ast *body);
Ast *ast_step(Loc at, Ast *body);
Ast *ast_field(Loc at, bool test, const char *name, Ast *type, Ast *src);
Ast *ast_type(Loc at, Dtype d, Ast *dims); /* dims: seq; NULL for int/float */
Ast *ast_type_lead(Loc at, Dtype d, Ast *dims); /* f32[..., dims]: any leading dims */
Ast *ast_minimize(Loc at, Ast *loss, Ast *wrt, Ast *optimizer, Ast *schedule);
Ast *ast_minimize_setting(Loc at, Ast *loss, Ast *wrt, Ast *optimizer, const char *name, Loc name_at,
                          Ast *value);
Ast *ast_for(Loc at, const char *var, Ast *lo, Ast *hi, Ast *body);
Ast *ast_if(Loc at, Ast *cond, Ast *then_body, Ast *else_body);
Ast *ast_num(Loc at, const char *text);   /* is_int unless '.' or exponent */
Ast *ast_binop(Loc at, int op, Ast *a, Ast *b);
Ast *ast_neg(Loc at, Ast *a);
Ast *ast_with_args(AstKind k, Loc at, Ast *a, Ast *args); /* CALL INDEX LIST */

/* ---- lex.l / parse.y -------------------------------------------------- */

/* Parse a whole file.  Reports every syntax error it can recover from
 * (resynchronising at ';' and '}') and always returns an AST_PROGRAM of what
 * it could read. */
Ast *parse_file(const SrcFile *f);
/* `nnc emit tokens`: one token per line, "line:col KIND text". */
void lex_dump_tokens(const SrcFile *f, FILE *out);

/* ---- sema.c: loading, imports, top-level names ------------------------ */

typedef struct Module {
  Ast **items; int nitems, capitems;  /* all top-level items, imports first */
  const char *main_path;
  const SrcFile **files; int nfiles, capfiles; /* every file read, the main one first */
} Module;

/* Where `import "nn";` looks: NNC_STDLIB_DIR, or $NNC_STDLIB if set. */
const char *sema_stdlib_dir(void);
/* Parse path and its imports (transitively, each once), check top-level
 * declarations (duplicates, unknown models/data in train blocks, bad types
 * in declarations).  Returns NULL only if path cannot be read, with *why
 * as src_load gives it. */
Module *sema_load(const char *path, const char **why);
/* The same for a file already in memory (imports are still read from disk). */
Module *sema_load_src(SrcFile *f);
/* Parse path now and use that parse for every later import of it, instead
 * of reading and parsing it again (the frontend fuzzer parses the stdlib
 * once; nnc loads each file once anyway).  The arena memory it takes must
 * outlive those loads (see arena_mark).  Returns false if path is
 * unreadable or has a syntax error (and keeps nothing). */
bool sema_keep_parsed(const char *path);
Ast *sema_find(const Module *m, AstKind kind, const char *name);
Ast *sema_find_member(const Ast *model, AstKind kind, const char *name);

/* ---- the graph IR (graph.c) ------------------------------------------- */
#include "graph.h"

#endif
