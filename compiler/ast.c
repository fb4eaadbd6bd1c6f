/*
 * ast.c — building and printing the syntax tree.
 *
 * The constructors mirror parse.y's productions one to one, so each Bison
 * action is a single call.  The printers are used by `nnc emit ast` and by
 * golden tests, so their output is deterministic and changes only on
 * purpose.  Nothing here checks meaning: that is sema.c and lower.c.
 *
 * ast_dump prints one construct per line, indented two spaces per level:
 * declarations as `kind name @line:col` with their parts below them,
 * statements as one line each, expressions in the source-like form of
 * ast_print_expr (binary and unary operators fully parenthesised).
 */
#include "nnc.h"

#include <stdlib.h>
#include <string.h>

Ast *ast_new(AstKind k, Loc loc) {
  Ast *n = arena_alloc(sizeof *n);
  n->kind = k;
  n->loc = loc;
  return n;
}

void ast_add(Ast *parent, Ast *child) { PUSH(parent->list, parent->nlist, parent->caplist, child); }

void ast_add_arg(Ast *parent, Ast *child) { PUSH(parent->args, parent->nargs, parent->capargs, child); }

/* ---- constructors for parse.y ------------------------------------------ */

Ast *ast_seq(void) { return ast_new(AST_LIST, (Loc){0}); }

Ast *ast_seq_add(Ast *seq, Ast *item) {
  if (item)
    ast_add_arg(seq, item);
  return seq;
}

Ast *ast_seq_end(Ast *seq, Loc closing) {
  seq->end = closing;
  return seq;
}

static void take_args(Ast *n, const Ast *seq) {
  if (!seq)
    return;
  n->args = seq->args;
  n->nargs = seq->nargs;
  n->capargs = seq->capargs;
}

static void take_list(Ast *n, const Ast *seq) {
  if (!seq)
    return;
  n->list = seq->args;
  n->nlist = seq->nargs;
  n->caplist = seq->capargs;
  n->end = seq->end;
}

/* An expression's height from its operands; an error once, at the node
 * that passes NNC_MAX_HEIGHT (the operands are then dropped, so no pass
 * ever walks the tall tree). */
static Ast *with_height(Ast *n) {
  if (n->kind < AST_NUM) /* statements and declarations: not expressions */
    return n;
  int h = 0;
  if (n->a && n->a->height > h) h = n->a->height;
  if (n->b && n->b->height > h) h = n->b->height;
  for (int i = 0; i < n->nargs; i++)
    if (n->args[i] && n->args[i]->height > h) h = n->args[i]->height;
  n->height = h + 1;
  if (n->height > NNC_MAX_HEIGHT) {
    diag_error(n->loc, "expression nested more than %d deep", NNC_MAX_HEIGHT);
    n->a = n->b = NULL;
    n->nargs = 0;
    n->height = 1;
    n->kind = AST_NUM; /* a harmless leaf in its place */
  }
  return n;
}

Ast *ast_node(AstKind k, Loc at, const char *name, Ast *a, Ast *b) {
  Ast *n = ast_new(k, at);
  n->name = name;
  n->a = a;
  n->b = b;
  return with_height(n);
}

Ast *ast_fn(Loc at, const char *name, Ast *params, Ast *ret, Ast *body) {
  Ast *n = ast_node(AST_FN, at, name, ret, NULL);
  take_args(n, params);
  take_list(n, body);
  return n;
}

Ast *ast_model(Loc at, const char *name, Ast *params, Ast *elem, Ast *members) {
  Ast *n = ast_node(AST_MODEL, at, name, NULL, elem);
  take_args(n, params);
  take_list(n, members);
  return n;
}

Ast *ast_data(Loc at, const char *name, Ast *fields) {
  Ast *n = ast_node(AST_DATA, at, name, NULL, NULL);
  take_list(n, fields);
  return n;
}

Ast *ast_train(Loc at, const char *model, const char *data, Ast *body) {
  Ast *n = ast_node(AST_TRAIN, at, model, NULL, NULL);
  n->name2 = data;
  take_list(n, body);
  return n;
}

Ast *ast_step(Loc at, Ast *body) {
  Ast *n = ast_new(AST_STEP, at);
  take_list(n, body);
  return n;
}

Ast *ast_field(Loc at, bool test, const char *name, Ast *type, Ast *src) {
  Ast *n = ast_node(AST_FIELD, at, name, type, src);
  n->op = test;
  return n;
}

Ast *ast_type(Loc at, Dtype d, Ast *dims) {
  Ast *n = ast_new(AST_TYPE, at);
  n->op = d;
  n->op2 = dims == NULL;
  take_args(n, dims);
  return n;
}

/* f32[..., d]: any leading dims (ival = 1), then the ones written. */
Ast *ast_type_lead(Loc at, Dtype d, Ast *dims) {
  Ast *n = ast_type(at, d, dims);
  n->ival = 1;
  return n;
}

/* minimize LOSS wrt P, ... using OPT [, schedule = SCHED]: a = LOSS, b = OPT,
 * args = the wrt list, list = { SCHED } when given. */
Ast *ast_minimize(Loc at, Ast *loss, Ast *wrt, Ast *optimizer, Ast *schedule) {
  Ast *n = ast_node(AST_MINIMIZE, at, NULL, loss, optimizer);
  take_args(n, wrt);
  if (schedule) ast_add(n, schedule);
  return n;
}

/* `, NAME = VALUE` after the optimizer: only `schedule` exists. */
Ast *ast_minimize_setting(Loc at, Ast *loss, Ast *wrt, Ast *optimizer, const char *name, Loc name_at,
                          Ast *value) {
  if (strcmp(name, "schedule") != 0)
    diag_error(name_at, "'minimize ... using OPT, %s = ...': the setting after the optimizer is 'schedule'", name);
  return ast_minimize(at, loss, wrt, optimizer, strcmp(name, "schedule") ? NULL : value);
}

Ast *ast_for(Loc at, const char *var, Ast *lo, Ast *hi, Ast *body) {
  Ast *n = ast_node(AST_FOR, at, var, lo, hi);
  take_list(n, body);
  return n;
}

Ast *ast_if(Loc at, Ast *cond, Ast *then_body, Ast *else_body) {
  Ast *n = ast_node(AST_IF, at, NULL, cond, NULL);
  take_list(n, then_body);
  take_args(n, else_body);
  return n;
}

Ast *ast_num(Loc at, const char *text) {
  Ast *n = ast_new(AST_NUM, at);
  n->height = 1;
  n->num = strtod(text, NULL);
  n->is_int = !strpbrk(text, ".eE");
  if (n->is_int) /* too large for 64 bits: reported by the lexer; saturated here */
    n->ival = strtoll(text, NULL, 10);
  return n;
}

Ast *ast_binop(Loc at, int op, Ast *a, Ast *b) {
  Ast *n = ast_node(AST_BINOP, at, NULL, a, b);
  if (n->kind == AST_BINOP)
    n->op = op;
  return n;
}

Ast *ast_neg(Loc at, Ast *a) {
  Ast *n = ast_node(AST_UNOP, at, NULL, a, NULL);
  if (n->kind == AST_UNOP)
    n->op = '-';
  return n;
}

Ast *ast_with_args(AstKind k, Loc at, Ast *a, Ast *args) {
  Ast *n = ast_new(k, at);
  n->a = a;
  take_args(n, args);
  return with_height(n);
}

/* ---- printing ---------------------------------------------------------- */

static const char *const kind_names[AST__COUNT] = {
  [AST_PROGRAM] = "program", [AST_IMPORT] = "import",     [AST_MODEL] = "model",
  [AST_FN] = "fn",           [AST_DATA] = "data",         [AST_TRAIN] = "train",
  [AST_CONST] = "const",     [AST_PARAM] = "param",       [AST_STATE] = "state",
  [AST_LAYER] = "layer",     [AST_ARG] = "arg",           [AST_FIELD] = "field",
  [AST_TYPE] = "type",       [AST_ASSIGN] = "assign",     [AST_RETURN] = "return",
  [AST_EXPR_STMT] = "expr",  [AST_MINIMIZE] = "minimize", [AST_FOR] = "for", [AST_IF] = "if",
  [AST_METRIC] = "metric",
  [AST_STEP] = "step",       [AST_NUM] = "num",           [AST_STR] = "str",
  [AST_NAME] = "name",       [AST_BINOP] = "binop",       [AST_UNOP] = "unop",
  [AST_CALL] = "call",       [AST_KWARG] = "kwarg",       [AST_MEMBER] = "member",
  [AST_INDEX] = "index",     [AST_SLICE] = "slice",       [AST_LIST] = "list",
};

const char *ast_kind_name(AstKind k) {
  if (k < 0 || k >= AST__COUNT || !kind_names[k])
    return "?";
  return kind_names[k];
}

static const char *op_text(int op) {
  switch (op) {
  case '^': return "**";
  case OPC_EQ: return "==";
  case OPC_NE: return "!=";
  case OPC_LE: return "<=";
  case OPC_GE: return ">=";
  case '+': return "+";
  case '-': return "-";
  case '*': return "*";
  case '/': return "/";
  case '@': return "@";
  case '<': return "<";
  case '>': return ">";
  }
  return "?";
}

/* Integers as written; other numbers in the shortest form that reads back
 * as the same double, always with a '.' or an exponent. */
static void print_num(const Ast *e, FILE *out) {
  double v = e->num;
  if (e->is_int) {
    fprintf(out, "%lld", (long long)e->ival);
    return;
  }
  if (v < 1e15 && v > -1e15 && v == (double)(long long)v) {
    fprintf(out, e->is_int ? "%.0f" : "%.1f", v);
    return;
  }
  char buf[64];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  fputs(buf, out);
}

static void print_str(const char *s, FILE *out) {
  fputc('"', out);
  for (; *s; s++) {
    switch (*s) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    default: fputc(*s, out);
    }
  }
  fputc('"', out);
}

static void print_args(Ast *const *args, int n, FILE *out) {
  for (int i = 0; i < n; i++) {
    if (i)
      fputs(", ", out);
    ast_print_expr(args[i], out);
  }
}

void ast_print_expr(const Ast *e, FILE *out) {
  if (!e) {
    fputs("<missing>", out);
    return;
  }
  switch (e->kind) {
  case AST_NUM: print_num(e, out); break;
  case AST_STR: print_str(e->name, out); break;
  case AST_NAME: fputs(e->name, out); break;
  case AST_BINOP:
    fputc('(', out);
    ast_print_expr(e->a, out);
    fprintf(out, " %s ", op_text(e->op));
    ast_print_expr(e->b, out);
    fputc(')', out);
    break;
  case AST_UNOP:
    fputs("(-", out);
    ast_print_expr(e->a, out);
    fputc(')', out);
    break;
  case AST_CALL:
    ast_print_expr(e->a, out);
    fputc('(', out);
    print_args(e->args, e->nargs, out);
    fputc(')', out);
    break;
  case AST_KWARG:
    fprintf(out, "%s=", e->name);
    ast_print_expr(e->a, out);
    break;
  case AST_MEMBER:
    ast_print_expr(e->a, out);
    fprintf(out, ".%s", e->name);
    break;
  case AST_INDEX:
    ast_print_expr(e->a, out);
    fputc('[', out);
    print_args(e->args, e->nargs, out);
    fputc(']', out);
    break;
  case AST_SLICE:
    if (e->a)
      ast_print_expr(e->a, out);
    fputc(':', out);
    if (e->b)
      ast_print_expr(e->b, out);
    break;
  case AST_LIST:
    fputc('[', out);
    print_args(e->args, e->nargs, out);
    fputc(']', out);
    break;
  case AST_TYPE:
    if (e->op2) {
      fputs(e->op == DT_I32 ? "int" : "float", out);
      break;
    }
    fprintf(out, "%s[%s", dtype_name((Dtype)e->op), e->ival ? (e->nargs ? "..., " : "...") : "");
    print_args(e->args, e->nargs, out);
    fputc(']', out);
    break;
  default:
    fprintf(out, "<%s>", ast_kind_name(e->kind));
  }
}

static void indent(FILE *out, int depth) {
  for (int i = 0; i < depth; i++)
    fputs("  ", out);
}

static void print_at(const Ast *n, FILE *out) { fprintf(out, " @%d:%d\n", n->loc.line, n->loc.col); }

/* `label expr` on its own line, if e is there. */
static void dump_expr_line(const char *label, const Ast *e, FILE *out, int depth) {
  if (!e)
    return;
  indent(out, depth);
  fprintf(out, "%s ", label);
  ast_print_expr(e, out);
  fputc('\n', out);
}

/* `name` or `name: type`, as params and fields are written. */
static void print_typed(const char *name, const Ast *type, FILE *out) {
  fputs(name, out);
  if (type) {
    fputs(": ", out);
    ast_print_expr(type, out);
  }
}

static void dump(const Ast *n, FILE *out, int depth);

static void dump_all(Ast *const *items, int count, FILE *out, int depth) {
  for (int i = 0; i < count; i++)
    dump(items[i], out, depth);
}

static void dump(const Ast *n, FILE *out, int depth) {
  indent(out, depth);
  switch (n->kind) {
  case AST_PROGRAM:
    fputs("program\n", out);
    dump_all(n->list, n->nlist, out, depth + 1);
    return;
  case AST_IMPORT:
    fputs("import ", out);
    print_str(n->name, out);
    print_at(n, out);
    return;
  case AST_CONST:
    fprintf(out, "const %s", n->name);
    print_at(n, out);
    dump_expr_line("value", n->a, out, depth + 1);
    return;
  case AST_MODEL:
  case AST_FN:
    fprintf(out, "%s %s", ast_kind_name(n->kind), n->name);
    print_at(n, out);
    dump_all(n->args, n->nargs, out, depth + 1);
    dump_expr_line("returns", n->a, out, depth + 1);
    if (n->kind == AST_MODEL && n->b) {
      indent(out, depth + 1);
      fprintf(out, "element %s\n", dtype_name((Dtype)n->b->op));
    }
    dump_all(n->list, n->nlist, out, depth + 1);
    return;
  case AST_DATA:
    fprintf(out, "data %s", n->name);
    print_at(n, out);
    dump_all(n->list, n->nlist, out, depth + 1);
    return;
  case AST_TRAIN:
    fprintf(out, "train %s on %s", n->name, n->name2);
    print_at(n, out);
    dump_all(n->list, n->nlist, out, depth + 1);
    return;
  case AST_STEP:
    fputs("step", out);
    print_at(n, out);
    dump_all(n->list, n->nlist, out, depth + 1);
    return;
  case AST_PARAM:
  case AST_STATE:
    fprintf(out, "%s %s", ast_kind_name(n->kind), n->name);
    print_at(n, out);
    dump_expr_line("type", n->a, out, depth + 1);
    dump_expr_line("init", n->b, out, depth + 1);
    return;
  case AST_LAYER:
    fprintf(out, "layer %s", n->name);
    print_at(n, out);
    dump_expr_line("ctor", n->a, out, depth + 1);
    return;
  case AST_ARG:
    fputs("arg ", out);
    print_typed(n->name, n->a, out);
    fputc('\n', out);
    return;
  case AST_FIELD:
    fputs(n->op ? "test field " : "field ", out);
    print_typed(n->name, n->a, out);
    fputs(" = ", out);
    ast_print_expr(n->b, out);
    fputc('\n', out);
    return;
  case AST_ASSIGN:
    fprintf(out, "assign %s = ", n->name);
    ast_print_expr(n->a, out);
    fputc('\n', out);
    return;
  case AST_METRIC:
    fprintf(out, "metric %s = ", n->name);
    ast_print_expr(n->a, out);
    fputc('\n', out);
    return;
  case AST_RETURN:
  case AST_EXPR_STMT:
    fprintf(out, "%s ", ast_kind_name(n->kind));
    ast_print_expr(n->a, out);
    fputc('\n', out);
    return;
  case AST_MINIMIZE:
    fputs("minimize ", out);
    ast_print_expr(n->a, out);
    if (n->nargs) {
      fputs(" wrt ", out);
      print_args(n->args, n->nargs, out);
    }
    fputs(" using ", out);
    ast_print_expr(n->b, out);
    if (n->nlist) {
      fputs(", schedule = ", out);
      ast_print_expr(n->list[0], out);
    }
    fputc('\n', out);
    return;
  case AST_IF:
    fputs("if ", out);
    ast_print_expr(n->a, out);
    fputc('\n', out);
    dump_all(n->list, n->nlist, out, depth + 1);
    if (n->nargs) {
      indent(out, depth);
      fputs("else\n", out);
      dump_all(n->args, n->nargs, out, depth + 1);
    }
    return;
  case AST_FOR:
    fprintf(out, "for %s in ", n->name);
    ast_print_expr(n->a, out);
    fputs(" .. ", out);
    ast_print_expr(n->b, out);
    fputc('\n', out);
    dump_all(n->list, n->nlist, out, depth + 1);
    return;
  default:
    /* an expression where a declaration or statement was expected */
    fputs("expr ", out);
    ast_print_expr(n, out);
    fputc('\n', out);
    return;
  }
}

void ast_dump(const Ast *prog, FILE *out) {
  if (prog)
    dump(prog, out, 0);
}
