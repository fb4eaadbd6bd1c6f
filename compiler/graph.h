/*
 * graph.h — the tensor-graph IR and the passes over it (included by nnc.h).
 *
 * A Node is immutable and interned: building a node equal to an existing
 * one (same op, dtype, shape, inputs and attributes) returns the existing
 * one, so common subexpressions are shared for free and equality is pointer
 * equality.  Node ids grow with creation, so increasing id is a topological
 * order.  Passes build new nodes; they never edit old ones.
 *
 * Shapes are static except for the batch dimension: a Dim is k * B^b with
 * b in {0, 1}, B being the batch size of the kernel call.
 */
#ifndef NNC_GRAPH_H
#define NNC_GRAPH_H

#include "ops.h"
#include <string.h>

#define MAX_RANK 8

typedef struct Dim { int64_t k; int b; } Dim; /* k * B^b */
typedef struct Shape { int rank; Dim d[MAX_RANK]; } Shape;

Shape shape_scalar(void);
Shape shape_of(int rank, const Dim *d);
bool shape_eq(const Shape *a, const Shape *b);
Dim shape_numel(const Shape *s);  /* product; b may exceed 1 for odd shapes */
/* Every shape in the graph has at most NNC_MAX_ELEMS elements per unit of
 * the batch, so the byte count of any tensor (16 bytes an element at most)
 * and a sum or product of two dimensions fit in 64 bits.  NULL if s is
 * fine, else why not, naming the dimension. */
#define NNC_MAX_ELEMS ((int64_t)1 << 48)
const char *shape_check(const Shape *s);
char *shape_str(const Shape *s);  /* "[B, 784]" in the arena */
char *dim_str(Dim d);

typedef struct Node Node;
struct Node {
  int id;
  Op op;
  Dtype dt;
  Shape sh;
  Node **in;            /* nin entries (at least 3, unused ones NULL); a scan has more */
  int nin;
  int64_t ia[MAX_RANK]; /* integer attributes: axes mask, perm, offsets, flags */
  double fv;            /* CONST value, LEAKY_RELU slope, ELU alpha */
  int bpow;             /* CONST: value is fv * B^bpow */
  int slot;             /* PARAM/STATE/INPUT: runtime slot; else -1 */
  const char *name;     /* PARAM/STATE/INPUT name */
  Loc loc;              /* the source expression that made it */
  int grad_of;          /* built by the derivative rule of this op + 1; 0 if forward */
  Node *hnext;          /* intern table chain */
};

/* ---- ops of kind GEN: the typed attribute schema and the op's rules ---- */

/* AT_AXIS: negative counts from the end; AT_FLOAT: a double, stored in its
 * int64_t slot as its bits (attr_float, attr_bits), defaulting to fdflt */
typedef enum { AT_INT, AT_BOOL, AT_AXIS, AT_FLOAT } AttrType;
typedef struct AttrSpec { const char *name; AttrType type; int64_t dflt; double fdflt; } AttrSpec;
static inline double attr_float(int64_t bits) { double v; memcpy(&v, &bits, sizeof v); return v; }
static inline int64_t attr_bits(double v) { int64_t b; memcpy(&b, &v, sizeof b); return b; }
struct KernelTarget;
typedef struct OpSpec {
  const AttrSpec *attrs; int nattrs; /* stored in Node.ia in this order */
  /* the node for these inputs and attributes (axes already normalised), or
   * NULL with shape_error() set; most end in g_node */
  Node *(*build)(Op op, Node **in, const int64_t *attr);
  /* contributions of the adjoint g to each input (as grad.c's rules) */
  void (*grad)(Node *n, Node *g, Node **d);
  /* independent work items: one GPU thread each, a loop on the CPU */
  Dim (*extent)(const Node *n);
  /* the kernel computing n, for either target (codegen/kernel.h) */
  void (*emit)(const struct KernelTarget *t, const Node *n);
  /* built only by derivative rules, never called by name from a .nn program */
  bool internal;
} OpSpec;

/* ops/roi_align.c: the checks roi_align and roi_pool share (features
 * f[B, C, H, W], boxes f[B, R, 4], size >= 1, scale > 0): x, or NULL with
 * shape_error() set */
Node *roi_check(const char *name, Node *x, Node *boxes, int64_t size, double scale);

/* ---- graph.c: interning builder --------------------------------------- */

/* The raw interning constructor; most code uses the g_* helpers, which go
 * through the simplifier's rewrite rules unless simplification is off. */
Node *node_intern(Op op, Dtype dt, Shape sh, Node **in, int nin,
                  const int64_t *ia, double fv, int bpow, int slot,
                  const char *name, Loc loc);
void graph_set_loc(Loc loc); /* location given to nodes built from now on */
/* Forget every node (their memory goes with the arena): for fuzz targets,
 * between inputs, after arena_reset. */
void graph_reset(void);
/* Nodes built from now on belong to the derivative of op (grad.c), or to
 * the forward program for op < 0; messages name them by it ("gradient of
 * sqrt"), not by their own primitive. */
void graph_set_grad_of(int op);
/* nnc build --f64: every f32 of the program and the stdlib is taken as f64
 * (the parser's `f32`/`float` and every node built as f32), so a model
 * moves to double precision without edits (nnc gradcheck's default). */
void graph_set_f64(bool on);
Dtype dtype_f32(void); /* DT_F32, or DT_F64 under --f64 */
/* The program's float type: its trained model's element type (f32, or f64
 * for `model M: f64` or under --f64), which the values of its csr fields
 * (graph(...), read by spmm) have.  Lowering sets it. */
void graph_set_program_float(Dtype dt);
Dtype dtype_program(void);
Loc graph_loc(void);
int graph_node_count(void);
/* The type input j of element-wise node n is read as by the backends: its
 * own, except that a constant takes its partner's (the last non-constant
 * input's; a select's condition keeps its own), or n's float type when it
 * has no partner. */
Dtype ewise_input_dtype(const Node *n, int j);

/* Leaves */
Node *g_param(const char *name, int slot, Dtype dt, Shape sh);
Node *g_state(const char *name, int slot, Dtype dt, Shape sh);
Node *g_input(const char *name, int slot, Dtype dt, Shape sh);
Node *g_const(double v, int bpow, Dtype dt, Shape sh);
Node *g_scalar(double v, Dtype dt);

/* Builders with shape rules (shape.c).  They return NULL after reporting a
 * user error at graph_loc() (broadcast mismatch, bad axis, ...). */
Node *g_unary(Op op, Node *a);
Node *g_unary_attr(Op op, Node *a, double fv);
Node *g_binary(Op op, Node *a, Node *b);
/* The generic builder: rewrite rules, else intern (for OpSpec.build). */
Node *g_node(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia);
/* An op of kind GEN from its inputs and attributes (in schema order, axes
 * not yet normalised): checks the attributes, then the op's build. */
Node *g_gen(Op op, Node **in, const int64_t *attr);
/* An element-wise op of n inputs of one float type, broadcast together. */
Node *g_ewise(Op op, Node **in, int n);
Node *g_select(Node *c, Node *a, Node *b);
Node *g_reduce(Op op, Node *a, uint64_t axes_mask);     /* keeps size-1 dims */
Node *g_row(Op op, Node *a);                            /* softmax family */
Node *g_matmul(Node *a, Node *b, int ta, int tb);
Node *g_reshape(Node *a, Shape sh);
Node *g_broadcast(Node *a, Shape sh);
Node *g_transpose(Node *a, const int64_t *perm);
Node *g_slice(Node *a, const int64_t *start, Shape out);
Node *g_pad(Node *a, const int64_t *start, Shape out);
Node *g_concat(Node *a, Node *b, int axis);
Node *g_onehot(Node *labels, int64_t n, Dtype dt);
Node *g_argmax(Node *a);
Node *g_cast(Node *a, Dtype dt);
/* Fresh random numbers of shape sh (kind 0 uniform [0,1), 1 normal); never
 * shared with another draw. */
Node *g_rand(int kind, Dtype dt, Shape sh);
/* 0, 1, ..., n-1 */
Node *g_iota(int64_t n, Dtype dt);
/* Convolution family.  geo = {sh, sw, ph, pw, dh, dw, groups}; the output
 * shape of the two adjoints is given (it is the shape of what they undo). */
Node *g_conv2d(Node *x, Node *w, const int64_t *geo);
Node *g_conv2d_bwd_data(Node *dy, Node *w, const int64_t *geo, Shape xsh);
Node *g_conv2d_bwd_weights(Node *x, Node *dy, const int64_t *geo, Shape wsh);
/* Pooling family.  geo = {kh, kw, sh, sw, ph, pw}. */
Node *g_pool(Op op, Node *x, const int64_t *geo);               /* MAXPOOL, POOLIDX, AVGPOOL */
Node *g_pool_adjoint(Op op, Node *v, Node *idx, const int64_t *geo, Shape out); /* UNPOOL, GATHER2D, AVGPOOL_BWD */
/* Sum a broadcast result back to shape sh (gradient of broadcasting). */
Node *g_unbroadcast(Node *a, Shape sh);
bool shape_broadcast(const Shape *a, const Shape *b, Shape *out);
/* Why the last g_* builder returned NULL ("shapes [B, 3] and [4] ..."). */
const char *shape_error(void);
/* Leave a message for shape_error() and return NULL (for builders). */
Node *shape_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Printing: `%12 = mul f32[B, 10] %10, %11` */
void node_print(const Node *n, FILE *out);

/* ---- a kernel: named outputs over the graph --------------------------- */

typedef struct KOut {
  Node *node;
  int slot;          /* slot to write (OUTPUT, GRAD or STATE) */
  const char *label; /* "loss", "correct", "grad W1", "state bn.mean" */
  bool deferred;     /* written after everything else (the slot is also read) */
  bool on_demand;    /* show / sample: computed only when the run asks (ctx + NNRT_CTX_GEN) */
} KOut;

/* A run of the schedule that becomes one loop nest (fuse.c). */
typedef struct Group {
  Node **nodes; int n, cap;
  Shape space;      /* iteration space of a fused group */
  bool fused;       /* element-wise members in one loop */
  bool closed;      /* ends with a reduction over the space */
  const char *why;  /* why the next node did not join */
} Group;

/* Where each scratch buffer lives (memplan.c). */
typedef struct MemPlan {
  char *arena;           /* by node id: 0 none, 1 batch arena, 2 fixed arena */
  int64_t *off;          /* bytes per unit of B (arena 1) or bytes (arena 2) */
  int64_t totalB, total0; /* the block is totalB·B + total0 bytes */
  int64_t naiveB, naive0; /* without reuse */
  int nbufs;
  int *first, *last;     /* by node id: the groups that write and last read it */
  int64_t *size;         /* by node id: bytes (per unit of B in arena 1) */
  int *took;             /* by node id: the input whose bytes it took in place, or -1 */
  /* by scan node id: where that scan's body workspace starts (the body's
   * own plan, scan.c, shifted: per unit of B in arena 1, bytes in arena 2) */
  int64_t *scan_atB, *scan_at0;
} MemPlan;

typedef struct Kernel {
  const char *name; /* "train", "eval" */
  KOut *outs; int nouts, capouts;
  Node **sched; int nsched; /* computed by kernel_schedule: post-order */
  Group *groups; int ngroups; /* computed by fuse_kernel */
  char *stored;     /* by node id: the value needs memory */
  char *needs_mem;  /* by node id: a constant some consumer reads from memory */
  char *view;       /* by node id: no loop, no buffer of its own — VIEW_LOOP: a
                     * slice or broadcast that fused loops read in place from its
                     * input's memory; VIEW_GEMM: a transpose or slice that only
                     * batched products read, through its layout (gemm_view) */
  int *nest;        /* by group, or NULL (fuse_nests): a row nest's first group
                     * holds how many groups the nest has (>= 2), its other
                     * groups 0, every other group 1 */
  Node **place;     /* by node id, or NULL (fuse.c, CPU): the concat whose buffer
                     * this value is written into (a transpose or a concat only
                     * that concat reads, maybe through a reshape), or NULL */
  int64_t *place_col; /* by node id: where along that concat's last axis it starts */
  MemPlan *plan;    /* computed by memplan_kernel */
} Kernel;

void kernel_add_out(Kernel *k, Node *n, int slot, const char *label);
void kernel_schedule(Kernel *k);       /* DFS post-order from outputs (DCE) */
/* Floating-point operations of one call of scheduled kernel k at this
 * batch size: matmuls (2MNK), convolutions and their gradients (2 per
 * filter tap) and element-wise ops (ops.h's per-element cost); moves,
 * reductions, row ops and GEN kernels count nothing.  An estimate for
 * `OUT info`, not a measurement. */
double kernel_flops(const Kernel *k, int64_t batch);
void kernel_print(const Kernel *k, FILE *out, bool grads_only);
/* dot.c: kernel k as a Graphviz digraph (nnc emit dot); with clusters, its
 * fusion groups of several nodes boxed. */
void kernel_dot(const Kernel *k, FILE *out, bool clusters);
/* By node id: the output slot a value is computed in, in place (not a leaf,
 * an alias, a pooling pair or a deferred state update), or -1.  Memory
 * planning and both backends follow this one rule. */
int *kernel_out_slots(const Kernel *k);
void verify_kernel(const Kernel *k);   /* IR invariants; nnc_unreachable on a bug */

/* ---- fuse.c ------------------------------------------------------------ */

/* fuse = false: every op its own group (--no-fuse, the checked kernels). */
void fuse_kernel(Kernel *k, bool fuse);
enum { VIEW_LOOP = 1, VIEW_GEMM = 2 }; /* Kernel.view's kinds */
void fuse_gemm_views(bool on); /* batched products read heads in place (fuse.c); off for --cuda */
/* The concat whose buffer placed value v lives in at last (following
 * Kernel.place up), and where along its last axis v starts (in *col, when
 * col is not NULL); NULL when v is not placed. */
const Node *place_root(const Kernel *k, const Node *v, int64_t *col);
/* A view's memory: its root (a value with a buffer) and, over the view's
 * shape, the offset and strides into it, each k·B^b elements. */
typedef struct ViewLayout { const Node *root; Dim off; Dim st[MAX_RANK]; } ViewLayout;
bool view_layout(const char *view, const Node *x, ViewLayout *vl);
/* Operand j of a batched product read in place (nnrt_sgemm_batch). */
typedef struct GemmView { ViewLayout l; int trans, nb; Dim ld, bs[2]; } GemmView;
bool gemm_view(const char *view, const Node *m, int j, GemmView *g);
void fuse_print(const Kernel *k, FILE *out);  /* `nnc emit fused` */
/* Row nests (fuse.c): runs of groups over the same leading dims [R..., C]
 * that only pass each other whole rows, run row by row in one loop. */
void fuse_nests(Kernel *k);
/* The groups [*lo, *hi] of the nest group g belongs to (g itself alone). */
void nest_range(const Kernel *k, int g, int *lo, int *hi);
/* The values a fused group reads from memory (not members, not constants),
 * each once, in first-use order; xs needs room for 3·g->n entries.  seen is
 * a zeroed array by node id, left zeroed (one per kernel, not one per group:
 * the work stays linear in the group's size). */
int group_inputs(const Group *g, Node **xs, char *seen);

/* ---- memplan.c ---------------------------------------------------------- */

void memplan_kernel(Kernel *k);
void memplan_in_place(bool on); /* values computed in place of dying inputs (default on) */
void memplan_print(const Kernel *k, int64_t batch, FILE *out); /* `nnc emit memplan` */

/* ---- simplify.c -------------------------------------------------------- */

/* Rewrite rules applied at construction: returns a simpler equivalent
 * node or NULL if no rule applies.  The g_* builders (shape.c) call the
 * rewriter the pass manager installs (shape_set_rewriter): these rules, or
 * none under --no-simplify; shape.c itself does not know simplify.c. */
Node *simplify_rules(Op op, Dtype dt, Shape sh, Node **in, int nin,
                     const int64_t *ia, double fv, int bpow);
typedef Node *(*Rewriter)(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia, double fv, int bpow);
void shape_set_rewriter(Rewriter r); /* NULL: intern as built */
bool node_is_const(const Node *n, double *v, int *bpow);
/* The value of a scalar element-wise node of constant scalar inputs, by
 * ops.h's FOLD column, whether or not simplification is on: builtins of
 * compile-time numbers are numbers (floor(k / 2)) also under --no-simplify. */
bool simplify_fold_node(const Node *n, double *out);

/* ---- grad.c ------------------------------------------------------------ */

/* d loss / d wrt[i] for each i (loss a scalar); NULL where it does not
 * depend on it. */
void grad_build(Node *loss, Node **wrt, int nwrt, Node **out);
/* The same walk from several outputs, outs[i] seeded with the adjoint
 * seeds[i] (NULL: none); a wrt node is a leaf of the walk (its own inputs
 * get nothing through it).  scan.c derives a loop's backward body with it. */
void grad_walk(Node **outs, Node **seeds, int nout, Node **wrt, int nwrt, Node **res);

/* ---- scan.c: a loop over time steps kept as a loop ---------------------- */

/* Step i of T (0 <= i < T) runs at time tau = i, or T-1-i for a reverse
 * scan.  Per step: each sequence input x is sliced at start + tau*delta
 * along axis (shape slice, length 1 along axis) into var; the body (a
 * sub-graph over the vars, and over values computed before the loop, its
 * free variables) computes each carry's next value and the per-step
 * values; a per-step value is written to row base + tau*delta of its
 * stacked output [n, ...val's shape] (rows no step writes are zero); after
 * the step each carry's var takes its next value.  The scan's outputs are
 * OP_SCANOUT nodes: each carry's final value (carry k, ia[1] = k) and each
 * stacked per-step value (ia[1] = nc + m). */
typedef struct ScanCarry { Node *init, *var, *next, *out; } ScanCarry;
typedef struct ScanSeq { Node *x, *var; int64_t start[MAX_RANK]; int axis; int64_t delta; Shape slice; } ScanSeq;
typedef struct ScanStep { Node *val, *out; int64_t n, base, delta; bool product; /* a product saved for the backward scan */ } ScanStep;
typedef struct Scan {
  int id;
  Node *node;        /* the OP_SCAN node: its inputs are every value from before the loop it reads */
  int64_t T;
  bool reverse;
  ScanCarry *c; int nc;
  ScanSeq *s; int ns;
  ScanStep *y; int ny;
  int *saved;        /* by carry: the per-step value that is its var (what the backward scan reads), or -1 */
  Node **free; int nfree; /* the body's free variables (not constants, not a carry init or sequence) */
  Kernel body;       /* outputs: the carries' next values, then the per-step values */
  bool prepared;     /* body scheduled, fused and planned (scan_prepare) */
} Scan;
/* A placeholder of a body: a carry's or a sequence's value at one step. */
Node *g_scanvar(Dtype dt, Shape sh);
/* The scan and its outputs (vars, nexts and vals filled in; init NULL for
 * a carry that starts at zero; the steps' val, n, base and delta); save: also a per-step output of each
 * carry's var, for the backward scan. */
Scan *scan_new(int64_t T, bool reverse, ScanCarry *c, int nc, ScanSeq *s, int ns, ScanStep *y, int ny, bool save);
Scan *scan_of(const Node *n); /* of an OP_SCAN or OP_SCANOUT node */
void scan_reset(void);        /* forget every scan (graph_reset) */
/* Schedule, fuse and plan the body (once). */
void scan_prepare(Scan *s);
/* The gradient rule: gout[k] the adjoint of output k (carries, then
 * per-step values; NULL: none); d[i] gets the contribution to input i of
 * the scan node.  Builds the backward scan. */
void scan_grad(Node *scan, Node **gout, Node **d);
/* stack(items, axis) when the items are the rows 0..n-1 of one stacked
 * per-step output (a list a scan collected): that output, transposed;
 * else NULL. */
Node *scan_stack(Node **items, int n, int axis);
void scan_print(const Scan *s, FILE *out, const char *indent); /* the loop and its body */
void scan_print_kernel(const Kernel *k, FILE *out); /* each scan of kernel k (nnc emit ir/grad) */
void scan_memplan_print(const Kernel *k, int64_t batch, FILE *out);
/* The pipeline's switch (passes.c): lower `for` loops as scans */
extern bool scan_enabled;
/* The backward scan's two economies (passes.c; NNC_SCAN_SAVE=0 and
 * NNC_SCAN_HOIST=0 turn them off, to compare): the forward body's matrix
 * products saved rather than recomputed, and a weight's gradient summed
 * over the steps as one product after the loop. */
extern bool scan_remat, scan_hoist;
enum { SCAN_MIN_STEPS = 3 };

/* ---- lower.c: AST → slots and kernels ---------------------------------- */

/* A call with named numeric settings: sgd(lr=0.5, momentum=0.9), normal(0, 0.1). */
typedef struct HyperCall {
  const char *name;
  int n;
  const char *keys[16]; /* NULL for positional */
  double vals[16];
} HyperCall;

typedef struct SlotDesc {
  int role;          /* NNRT_SLOT_* */
  const char *name;
  Dtype dt;
  Shape sh;          /* batch dims as b=1 */
  Ast *init;         /* PARAM/STATE initialiser expr */
  HyperCall initc;   /* ... evaluated: name and positional args */
  int64_t fan_in, fan_out;
  int grad_of, opt;  /* GRAD: its param; the optimizer index */
  const char *field; /* INPUT: data field */
  int64_t classes;   /* INPUT: labels of onehot(y, classes), checked at load; 0 if none */
  const char *what;  /* OUTPUT: "loss", "correct" */
  Node *node;        /* leaf node for PARAM/STATE/INPUT */
} SlotDesc;

/* One data field of one split, as the runtime will load it. */
typedef struct DataSrc {
  const char *field, *split; /* split: "train" or "test" */
  const char *path;          /* idx/npy/csv file, or NULL for a table */
  int kind;                  /* 0 idx or npy (by extension), 1 csv, 2 text, 3 graph (len: nodes), 4 mlm */
  int64_t col_begin, col_end; /* csv: columns [begin, end); end -1 = all */
  int header;                /* csv: 1 yes, 0 no, -1 detect */
  double scale;
  bool normalize;            /* standardise per feature on the train split */
  bool node_mask;            /* a node mask: 0/1 entries, train and test disjoint (checked at load) */
  int64_t vocab, len, shift, stride; /* text: vocabulary cap, window length, shift, stride (0: len) */
  bool words;                /* text: word tokens */
  double mask;               /* mlm (with vocab, len, words): fraction masked */
  int pairs, part;           /* mlm: sentence pairs; NnrtMlmPart */
  int64_t copies;            /* mlm: passes over the documents */
  int norm;                  /* graph: 0 A, 1 D^-1/2 (A + I) D^-1/2 */
  bool csr;                  /* graph: a csr[N, N] field (sparse), else f32[N, N] */
  bool f64;                  /* graph: values in f64 (an f64 field, or csr in an f64 program) */
  int64_t n, per;            /* table: n samples of per values */
  double *table;
} DataSrc;

typedef struct Program {
  const char *name;
  const char *source;
  Ast *train;        /* the train block */
  Ast *data;         /* its data block */
  SlotDesc **slots; int nslots, capslots;
  DataSrc **srcs; int nsrcs, capsrcs;
  Kernel train_k, eval_k;
  Kernel train_chk, eval_chk; /* unfused copies that check every op (--check-numerics) */
  Node *loss;        /* the forward loss */
  Ast *optimizer;    /* call expr: sgd(lr=0.5, ...) */
  Ast *schedule;     /* or NULL */
  HyperCall opt, sched; /* ... evaluated (sched.name NULL if none) */
  HyperCall augment;    /* images(crop=, flip=, rotate=) */
  bool has_augment;
  int64_t epochs, batch, seed;
  double valid;      /* fraction of the train split held out, 0 = none */
  int64_t early_stop; /* patience in epochs on the validation loss, 0 = off */
  double clip_norm;   /* the gradients' largest total L2 norm, 0 = off */
  struct InfoRow { const char *name, *kind, *shape; int64_t params, flops; } *info;
  int ninfo, capinfo;
  /* Several objectives (`minimize L wrt P using OPT;` more than once, §8.4):
   * objective i has its own loss, parameters and optimizer (number i), and
   * its own train kernel, run in order every batch: objective 0's is train_k
   * (train_chk), objective i > 0's is obj_k[i] (obj_chk[i]).  nobj is 0 for a
   * program with one loss over every param (then none of this is used). */
  struct Objective {
    const char *name; /* the loss's name in the block (d_loss), else loss1, loss2, ... */
    Node *loss;       /* training mode */
    Ast *at, *optimizer;
    HyperCall opt;
    int *wrt; Ast **wrt_at; int nwrt; /* PARAM slots, and the wrt entry naming each */
    int slot;         /* its OUTPUT slot (what "objective") */
    HyperCall sched;  /* `, schedule = ...` of its minimize (has_sched), else the block's */
    bool has_sched;
    int group;        /* objectives of one `for` share a group (§8.4); others have their own */
    int64_t reps;     /* the for's iterations, each on its own batch (1: no for) */
  } *objs;
  int nobj;
  Kernel *obj_k, *obj_chk; /* [nobj]; entry 0 unused (train_k, train_chk) */
} Program;

/* Lower the module's (single) train block to the forward graphs of the
 * training and inference kernels (outputs only, not yet scheduled); NULL
 * after reporting errors. */
Program *lower_program(Module *m);
/* The warnings for missing data files lower_program found, once the
 * program has passed every check (lower_train.c). */
void lower_data_warnings(void);
/* The slots and every kernel's scratch plan made so far, at the program's
 * batch size, have a byte count below 2^62; false after reporting what
 * does not fit (passes.c, after memplan and checked). */
bool program_memory_fits(Program *p);
/* Every kernel of the program (train, eval, their checked copies, the other
 * objectives' and theirs): at most PROGRAM_MAX_KERNELS, into ks; the count. */
enum { PROGRAM_MAX_KERNELS = 4 + 2 * 8 };
int program_kernels(const Program *p, const Kernel **ks);
/* Append a slot to the program's table. */
SlotDesc *program_add_slot(Program *p, int role, const char *name, Dtype dt, Shape sh);
/* The autodiff pass (grad.c): gradient outputs of every parameter. */
void grad_program(Program *p);

/* The stages of the pipeline verify_program knows what to expect at. */
typedef enum { VS_LOWERED, VS_SCHEDULED, VS_FUSED, VS_PLANNED } VerifyStage;
/* Every IR invariant that holds at stage s, on every kernel of p
 * (nnc_unreachable on a broken one: a compiler bug). */
void verify_program(const Program *p, VerifyStage s);

/* ---- codegen/llvm.c and link.c ---------------------------------------- */

typedef struct CodegenOptions {
  int opt_level; /* 0..3 */
  const char *cuda_arch; /* non-NULL: also embed PTX for it (nnc build --cuda) */
  bool split; /* a module per kernel, compiled in parallel (nnc build); else one */
  bool profile; /* time every work item (nnc build --profile; runtime/profile.c) */
} CodegenOptions;

/* Build the program's LLVM modules ("units"); returns them as void* (NULL
 * only when o->cuda_arch is set and an op has no GPU code). */
void *codegen_module(Program *p, const CodegenOptions *o);
int codegen_units(void *units); /* how many: codegen_emit writes one file each */
/* Optimise at o->opt_level and print every unit's IR. */
int codegen_print_ir(void *units, const CodegenOptions *o, FILE *out);
/* Optimise and compile unit i to paths[i] (object or assembly), on several
 * threads; 0, or -1 after reporting a file that could not be written. */
int codegen_emit(void *units, const CodegenOptions *o, const char **paths, bool assembly);
/* Link objs and libnnrt into the executable out; messages call it name. */
int link_executable(const char **objs, int nobjs, const char *out, const char *name);

/* ---- onnx.c: nnc export (linked into nnc only, not nnccore) ------------ */

/* The eval kernel's `predict` output as an ONNX model (opset 13) at out,
 * its weights read from the safetensors checkpoint ckpt.  0, or 1 after
 * reporting an op with no ONNX form (at its line) or a bad checkpoint. */
int onnx_export(const Program *p, const char *ckpt, const char *out);

/* ---- codegen/nvptx.c: the GPU kernels --------------------------------- */

const char *nvptx_arch(void); /* $NNC_CUDA_ARCH or sm_80 */
/* PTX text of every GPU kernel of p (in the arena), or NULL after reporting
 * an op with no GPU code; also plans the launch schedule that nvptx_attach
 * then adds to the host module. */
char *nvptx_emit(Program *p, const char *arch, int opt_level);
void nvptx_attach(Program *p, void *host_module, const char *ptx);

/* ---- passes.c: the pipeline ------------------------------------------- */

typedef struct PassOptions {
  bool simplify;    /* algebraic rewrites as nodes are built (--no-simplify) */
  bool fuse;        /* operator fusion (--no-fuse) */
  bool grads;       /* the autodiff pass runs (emit ir leaves it out) */
  bool verify_each; /* verify_program after every pass (--verify-each) */
  bool f64;         /* every f32 taken as f64 (--f64) */
  int scan;         /* `for` as scans: 1 --scan, -1 --unroll, 0 $NNC_SCAN decides (on unless 0) */
} PassOptions;

/* One compilation: the options and what each pass hands to the next. */
typedef struct Compilation {
  const char *path;  /* the .nn file */
  const char *out;   /* nnc build -o */
  PassOptions po;
  CodegenOptions co;
  bool check_only;   /* nnc check: stop after the graph passes */
  bool export_only;  /* nnc export: stop after 'lower' (onnx.c takes the graph from there) */
  const char *dot_graph; /* nnc emit dot --graph: backward (default), forward, fused */
  bool assembly;     /* the emit pass writes assembly (for nnc emit asm) */
  Module *m;         /* parse */
  Program *p;        /* lower ... checked */
  void *units;       /* codegen */
  const char **objs; int nobjs; /* emit */
  const char *asm_path;
} Compilation;

typedef struct Pass {
  const char *name;
  const char *what;                        /* one line for `nnc emit passes` */
  bool (*run)(Compilation *c);             /* false: stop (errors reported) */
  int (*dump)(Compilation *c, FILE *out);  /* `nnc emit NAME`; NULL: none */
  int verify;                              /* the VerifyStage after it; -1: no IR yet */
} Pass;

/* Run the passes in order; with dump set, up to the pass it names (a pass
 * or an older alias such as ir, grad, fused) and print it.  Returns the
 * exit code: 0, or 1 after errors were reported. */
int pipeline_run(Compilation *c, const char *dump);
bool passes_known_dump(const char *kind);
const char *passes_dump_names(void); /* for usage messages */
void passes_print(FILE *out);         /* `nnc emit passes` */

#endif
