/*
 * lower.h — what the files of the lowering pass share: the compile-time
 * values (Value), scopes (Env), model instances (Inst), a builtin call's
 * arguments (Args), the pass's state while it runs, and the functions one
 * file of the pass calls in another.  Private to lower*.c.
 *
 *   lower.c          values, scopes, compile-time numbers, expressions
 *   lower_builtin.c  the builtin functions a program calls
 *   lower_call.c     calls: inlining fns, statements, model methods
 *   lower_model.c    models: parameters and state become slots
 *   lower_train.c    data sources, the train block, lower_program
 */
#ifndef NNC_LOWER_H
#define NNC_LOWER_H

#include "nnc.h"
#include "../runtime/include/nnrt.h"

typedef struct Inst Inst;
typedef struct Env Env;

typedef enum { V_TENSOR, V_NUM, V_DIM, V_STR, V_LIST, V_INST, V_DATA, V_FN } VKind;

typedef struct Value {
  VKind k;
  Node *n;            /* V_TENSOR */
  double num;         /* V_NUM (also set for an integer) */
  int64_t i;          /* V_NUM with is_int: the exact value */
  bool is_int;
  Dim dim;            /* V_DIM */
  const char *s;      /* V_STR; V_DATA: path */
  struct Value **items; int nitems, capitems; /* V_LIST */
  Inst *inst;         /* V_INST; V_FN: owner (or NULL) */
  Ast *fn;            /* V_FN */
  double scale;       /* V_DATA */
  int dkind;          /* V_DATA: 0 idx/npy, 1 csv, 2 text, 3 graph, 4 mlm */
  int64_t vocab, shift, stride; /* V_DATA text: vocabulary cap, window shift and stride (0: T) */
  bool words;         /* V_DATA text: word tokens, not characters */
  int64_t seq, copies; int part, pairs; double mask; /* V_DATA mlm (with vocab, words) */
  int64_t c0, c1;     /* V_DATA csv columns [c0, c1) */
  int header;         /* V_DATA csv header: -1 detect */
  bool normalize;     /* V_DATA: normalize = 1 */
  bool node_mask;     /* V_DATA: mask = 1 (a node mask of a graph, checked at load) */
  int norm;           /* V_DATA graph: 0 A, 1 norm = "gcn": D^-1/2 (A + I) D^-1/2 */
  Loc loc;            /* where the value was made (for notes) */
} Value;

typedef struct Binding { const char *name; Value *v; struct Binding *next; } Binding;
/* Names of a long binding list (lists only grow at the head), so that a
 * lookup is not a walk over thousands: a model of 3,000 layers, a function
 * that assigns h 3,000 times.  Covers the list from `upto` down; see
 * lookup_b. */
typedef struct NameIndex { Binding **tab; int cap, n; Binding *upto; } NameIndex;
struct Env { Binding *b; Env *parent; Inst *self; NameIndex ix; };

struct Inst {
  Ast *model;
  const char *prefix; /* "" for the trained model, "l1." for its layer l1 */
  Env *ctor;          /* constructor arguments */
  Binding *members;   /* params, states, layers */
  NameIndex mix;      /* of members */
  const char *out_shape;
  int64_t params, flops;
  int info_row;
  Inst *parent;       /* the model this one is a layer of */
  Dtype elem;         /* its element type: what `float[...]` and untyped constants take */
  bool elem_given;    /* by its site: Dense(2, 4, dtype = "f64") */
};


typedef struct StateUpd { int slot; Node *node; const char *name; } StateUpd;
typedef struct ConstVal { Ast *decl; bool mode; Value *v; struct ConstVal *next; } ConstVal;

typedef struct Args {
  Ast *site;
  Value *pos[8]; Ast *pos_ast[8]; int npos;
  const char *kw[8]; Value *kwv[8]; Ast *kw_ast[8]; int nkw;
} Args;

/* ---- the pass's state (defined in lower.c) ---- */
extern Module *mod;
extern Value poison; /* bound to a name whose value failed: silences follow-on errors */
extern Ast *last_return; /* the expression of the last `return` executed */
extern bool training_mode; /* which program is being lowered: train or eval kernel */
extern Value *show_value; /* `show = ...;` of the train block (inference mode) */
extern Ast *show_at;
extern Value *predict_value; /* `predict = ...;` of the train block (inference mode) */
extern Ast *predict_at;
extern Value *sample_value; /* `sample = ...;` of the train block (inference mode) */
extern Ast *sample_at;
extern StateUpd *upd; /* state assignments made in training mode */
extern int nupd, capupd;
extern Program *prog;
extern int depth;
extern Inst *cur_inst; /* the instance whose fn is running (FLOP accounting) */
/* The element type of the instance being lowered (a free fn: its caller's;
 * the train block: the trained model's), already promoted under --f64.
 * `float[...]` means it, and so does a constant nothing else types. */
extern Dtype elem_type;
extern Dtype program_elem; /* the trained model's element type: `const`s take it */
extern Node *clf_pred, *clf_target; /* the classifier loss seen at train level */
extern const char *clf_kind;
extern Ast **expanding; /* what is being expanded right now, outermost first */
extern int nexpanding, capexpanding;
extern bool stuck;
extern ConstVal *const_vals;
extern int eval_depth;

/* ---- functions shared between the pass's files ---- */

/* lower.c */
void add_flops(Inst *in, int64_t f);
extern int64_t flops_scale; /* add_flops counts f this many times (a scanned loop's body: its steps) */
int64_t sat_mul3(int64_t a, int64_t b, int64_t c);
const char *cycle_path(Ast *decl);
bool is_expanding(Ast *decl);
Value *mk(VKind k, Loc loc);
Value *mk_tensor(Node *n, Loc loc);
void bind(Env *e, const char *name, Value *v);
#define FOR_MAX_STEPS 4096
bool for_range(Env *e, Ast *s, int64_t *lo, int64_t *hi);
Value *for_value(Ast *s, int64_t t);
/* The value of the newest binding of name in the list from head; ix is
 * the list's index (Env.ix, Inst.mix), brought up to date as needed. */
Value *lookup_b(Binding *head, NameIndex *ix, const char *name);
Env *env_new(Env *parent, Inst *self);
const char *vkind_name(const Value *v);
char *tstr(const Node *n);
bool as_int(Value *v, Ast *at, int64_t *out);
bool as_num(Value *v, Ast *at, double *out);
bool as_dim(Value *v, Ast *at, Dim *out);
bool eval_type(Env *e, Ast *t, Env *dims, const Shape *actual, Shape *out);
Node *lower_matmul(Node *a, Node *b); /* a @ b, matmul(a, b) */
Value *op_result(Node *n, Ast *at, Ast *xa, Value *va, Ast *xb, Value *vb);
Node *to_node(Value *v, Dtype like, Ast *at);
Dtype type_elem(const Ast *type); /* a written type's element type, float resolved */
void note_float(const Ast *type, Inst *self); /* where a float[...] got its element type */
Value *const_value(Ast *c);
Value *lookup(Env *e, const char *name);
Value *eval(Env *e, Ast *x);

/* lower_builtin.c */
bool is_builtin(const char *name);
Value *builtin(const char *name, Args *a);

/* lower_call.c */
Value *call(Env *e, Ast *x);
Value *call_fn(Ast *fn, Inst *self, Ast *site, Value **args, int nargs);

/* lower_model.c */
SlotDesc *new_slot(int role, const char *name, Dtype dt, Shape sh);
bool no_empty_dim(Ast *type, const Shape *sh, const char *name);
Inst *instantiate(Ast *model, Ast *site, Value **args, int nargs, const char *prefix, Dtype elem);
Dtype model_elem(Ast *model, int dt, Dtype outer); /* dt: a site's dtype, or -1 */

/* lower_train.c */
bool known_optimizer(const char *name);
/* a call's arguments as numbers, evaluated in e (NULL: constants only) */
bool hyper_eval(Env *e, Ast *c, HyperCall *h);

#endif
