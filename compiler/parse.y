/*
 * parse.y — the grammar of docs/LANGUAGE.md, building the AST.
 *
 * Each action is one call into ast.c.  Items are appended to the program as
 * soon as they are complete, so what was read survives an abort.
 *
 * Error recovery: every syntax error is reported, not just the first.
 * Statement and field lists resynchronise at ';' (`error ';'`) or at the
 * '}' that closes them (`close`).  Member lists and the top level skip to
 * the next keyword that can start a member or an item (a bare `error`),
 * since a member may itself be a braced fn body.  Bison stays quiet until
 * three tokens have been shifted after an error, which keeps one mistake
 * from producing a cascade.  LAC makes the "expected" sets exact.
 *
 * Messages come from yyreport_syntax_error below: "expected ';' before
 * 'return'", "unexpected '}'", and at end of file inside a block, what was
 * left open: "expected '}' to close 'model' opened at 3:1".
 *
 * Nesting is bounded by Bison's stack (YYMAXDEPTH, 10000), which also
 * bounds the depth of the tree that later passes recurse over.
 */
%code requires {
#include "nnc.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A '{' not yet closed and the keyword that opened it ("{" if none). */
typedef struct OpenBrace { const char *what; Loc at; } OpenBrace;

/* What the scanner and the parser of one file share. */
typedef struct ParseState {
  const SrcFile *file;
  yyscan_t scanner;
  Ast *prog;
  int line, col;          /* where the next token starts */
  const char *tok_text;   /* the last token, for messages */
  int tok_len;
  int eof_line, eof_col;  /* end of file is reported just after the last token */
  OpenBrace **open; int nopen, capopen;
  const char *opener;     /* the last block keyword, awaiting its '{' */
  Loc opener_at;
} ParseState;
}

%code provides {
/* lex.l: a scanner over f, ready to hand out its first token. */
void parse_state_init(ParseState *ps, const SrcFile *f);
void parse_state_close(ParseState *ps);
}

%code {
#include <string.h>
#include "lex.yy.h"

#define LOC(l) ((Loc){ps->file, (l).first_line, (l).first_column})

static void yyerror(YYLTYPE *at, yyscan_t scanner, ParseState *ps, const char *msg);
static Ast *metric_stmt(Loc at, const char *word, Loc name_at, const char *name, Ast *value);
}

%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%param {yyscan_t scanner}
%parse-param {ParseState *ps}
%expect 0

%union {
  Ast *ast;
  const char *str;
  int ival;
}

%token <str> IDENT "identifier" NUMBER "number" STRING "string"
%token KW_IMPORT "'import'" KW_CONST "'const'" KW_FN "'fn'" KW_MODEL "'model'"
%token KW_PARAM "'param'" KW_STATE "'state'" KW_LAYER "'layer'" KW_DATA "'data'"
%token KW_TRAIN "'train'" KW_ON "'on'" KW_TEST "'test'" KW_RETURN "'return'"
%token KW_MINIMIZE "'minimize'" KW_WRT "'wrt'" KW_USING "'using'" KW_FOR "'for'"
%token KW_IN "'in'" KW_STEP "'step'" KW_F32 "'f32'" KW_F64 "'f64'" KW_I32 "'i32'"
%token KW_CSR "'csr'"
%token KW_BOOL "'bool'" KW_INT "'int'" KW_FLOAT "'float'" KW_IF "'if'" KW_ELSE "'else'"
%token TK_POW "'**'" TK_EQ "'=='" TK_NE "'!='" TK_LE "'<='" TK_GE "'>='"
%token TK_DOTDOT "'..'" TK_ELLIPSIS "'...'" TK_ARROW "'->'"

%type <ast> item fn arg type dims member field stmt tstmt expr callarg index
%type <ast> params arg_list ctor_params opt_elem opt_ret opt_init opt_ftype
%type <ast> member_block members field_block fields train_block tstmts block stmts
%type <ast> exprs opt_exprs callargs callarg_list indices
%type <ival> dtype

%left TK_EQ TK_NE '<' TK_LE '>' TK_GE
%left '+' '-'
%left '*' '/' '@'
%precedence UMINUS
%right TK_POW
%precedence '(' '[' '.'

%%

program:
    %empty
  | program item                      { ast_add(ps->prog, $2); }
  | program error
  ;

item:
    KW_IMPORT STRING ';'              { $$ = ast_node(AST_IMPORT, LOC(@1), $2, NULL, NULL); }
  | KW_CONST IDENT '=' expr ';'       { $$ = ast_node(AST_CONST, LOC(@1), $2, $4, NULL); }
  | fn
  | KW_MODEL IDENT ctor_params opt_elem member_block
                                      { $$ = ast_model(LOC(@1), $2, $3, $4, $5); }
  | KW_DATA IDENT field_block         { $$ = ast_data(LOC(@1), $2, $3); }
  | KW_TRAIN IDENT KW_ON IDENT train_block
                                      { $$ = ast_train(LOC(@1), $2, $4, $5); }
  ;

fn:
    KW_FN IDENT '(' params ')' opt_ret block
                                      { $$ = ast_fn(LOC(@1), $2, $4, $6, $7); }
  ;

ctor_params:
    %empty                            { $$ = NULL; }
  | '(' params ')'                    { $$ = $2; }
  ;

/* model Net: f64 { ... }: the element type of its instances (§4.1) */
opt_elem:
    %empty                            { $$ = NULL; }
  | ':' dtype                         { $$ = ast_type(LOC(@2), $2, NULL); }
  ;

params:
    %empty                            { $$ = ast_seq(); }
  | arg_list
  ;

arg_list:
    arg                               { $$ = ast_seq_add(ast_seq(), $1); }
  | arg_list ',' arg                  { $$ = ast_seq_add($1, $3); }
  ;

arg:
    IDENT                             { $$ = ast_node(AST_ARG, LOC(@1), $1, NULL, NULL); }
  | IDENT ':' type                    { $$ = ast_node(AST_ARG, LOC(@1), $1, $3, NULL); }
  ;

opt_ret:
    %empty                            { $$ = NULL; }
  | TK_ARROW type                     { $$ = $2; }
  ;

type:
    dtype '[' dims ']'                { $$ = ast_type(LOC(@1), $1, $3); }
  | dtype '[' TK_ELLIPSIS ']'         { $$ = ast_type_lead(LOC(@1), $1, ast_seq()); }
  | dtype '[' TK_ELLIPSIS ',' exprs ']' { $$ = ast_type_lead(LOC(@1), $1, $5); }
  | KW_INT                            { $$ = ast_type(LOC(@1), DT_I32, NULL); }
  | KW_FLOAT                          { $$ = ast_type(LOC(@1), dtype_f32(), NULL); }
  ;

dtype:
    KW_F32                            { $$ = dtype_f32(); }
  | KW_F64                            { $$ = DT_F64; }
  | KW_I32                            { $$ = DT_I32; }
  | KW_BOOL                           { $$ = DT_BOOL; }
  | KW_CSR                            { $$ = DT_CSR; }
  | KW_FLOAT                          { $$ = DT_FLOAT; } /* float[...]: the model's element type */
  ;

dims:
    %empty                            { $$ = ast_seq(); }
  | exprs
  ;

/* The '}' ending a field or statement list; after an error inside the
 * list, everything up to it is skipped. */
close:
    '}'
  | error '}'                         { yyerrok; @$ = @2; }
  ;

member_block:
    '{' members '}'                   { $$ = ast_seq_end($2, LOC(@3)); }
  ;

members:
    %empty                            { $$ = ast_seq(); }
  | members member                    { $$ = ast_seq_add($1, $2); }
  | members error                     { $$ = $1; }
  ;

member:
    KW_PARAM IDENT ':' type opt_init ';'
                                      { $$ = ast_node(AST_PARAM, LOC(@1), $2, $4, $5); }
  | KW_STATE IDENT ':' type opt_init ';'
                                      { $$ = ast_node(AST_STATE, LOC(@1), $2, $4, $5); }
  | KW_LAYER IDENT '=' expr ';'       { $$ = ast_node(AST_LAYER, LOC(@1), $2, $4, NULL); }
  | fn
  ;

opt_init:
    %empty                            { $$ = NULL; }
  | '=' expr                          { $$ = $2; }
  ;

field_block:
    '{' fields close                  { $$ = ast_seq_end($2, LOC(@3)); }
  ;

fields:
    %empty                            { $$ = ast_seq(); }
  | fields field                      { $$ = ast_seq_add($1, $2); }
  ;

field:
    IDENT opt_ftype '=' expr ';'      { $$ = ast_field(LOC(@1), false, $1, $2, $4); }
  | KW_TEST IDENT opt_ftype '=' expr ';'
                                      { $$ = ast_field(LOC(@1), true, $2, $3, $5); }
  | error ';'                         { yyerrok; $$ = NULL; }
  ;

opt_ftype:
    %empty                            { $$ = NULL; }
  | ':' type                          { $$ = $2; }
  ;

train_block:
    '{' tstmts close                  { $$ = ast_seq_end($2, LOC(@3)); }
  ;

tstmts:
    %empty                            { $$ = ast_seq(); }
  | tstmts tstmt                      { $$ = ast_seq_add($1, $2); }
  ;

tstmt:
    stmt
  | KW_STEP block                     { $$ = ast_step(LOC(@1), $2); }
  | IDENT IDENT '=' expr ';'          { $$ = metric_stmt(LOC(@1), $1, LOC(@2), $2, $4); } /* metric NAME = EXPR; */
  ;

block:
    '{' stmts close                   { $$ = ast_seq_end($2, LOC(@3)); }
  ;

stmts:
    %empty                            { $$ = ast_seq(); }
  | stmts stmt                        { $$ = ast_seq_add($1, $2); }
  ;

stmt:
    IDENT '=' expr ';'                { $$ = ast_node(AST_ASSIGN, LOC(@1), $1, $3, NULL); }
  | KW_RETURN expr ';'                { $$ = ast_node(AST_RETURN, LOC(@1), NULL, $2, NULL); }
  | KW_MINIMIZE expr KW_WRT exprs KW_USING expr ';'
                                      { $$ = ast_minimize(LOC(@1), $2, $4, $6, NULL); }
  | KW_MINIMIZE expr KW_WRT exprs KW_USING expr ',' IDENT '=' expr ';'
                                      { $$ = ast_minimize_setting(LOC(@1), $2, $4, $6, $8, LOC(@8), $10); }
  | KW_MINIMIZE expr KW_USING expr ';'  { $$ = ast_minimize(LOC(@1), $2, NULL, $4, NULL); } /* every param */
  | KW_MINIMIZE expr KW_USING expr ',' IDENT '=' expr ';'
                                      { $$ = ast_minimize_setting(LOC(@1), $2, NULL, $4, $6, LOC(@6), $8); }
  | KW_FOR IDENT KW_IN expr TK_DOTDOT expr block
                                      { $$ = ast_for(LOC(@1), $2, $4, $6, $7); }
  | KW_IF expr block                  { $$ = ast_if(LOC(@1), $2, $3, NULL); }
  | KW_IF expr block KW_ELSE block    { $$ = ast_if(LOC(@1), $2, $3, $5); }
  | expr ';'                          { $$ = ast_node(AST_EXPR_STMT, LOC(@1), NULL, $1, NULL); }
  | error ';'                         { yyerrok; $$ = NULL; }
  ;

/* Binary operators are located at the operator, calls at the callee, member
 * accesses at the member's name. */
expr:
    expr TK_EQ expr                   { $$ = ast_binop(LOC(@2), OPC_EQ, $1, $3); }
  | expr TK_NE expr                   { $$ = ast_binop(LOC(@2), OPC_NE, $1, $3); }
  | expr '<' expr                     { $$ = ast_binop(LOC(@2), '<', $1, $3); }
  | expr TK_LE expr                   { $$ = ast_binop(LOC(@2), OPC_LE, $1, $3); }
  | expr '>' expr                     { $$ = ast_binop(LOC(@2), '>', $1, $3); }
  | expr TK_GE expr                   { $$ = ast_binop(LOC(@2), OPC_GE, $1, $3); }
  | expr '+' expr                     { $$ = ast_binop(LOC(@2), '+', $1, $3); }
  | expr '-' expr                     { $$ = ast_binop(LOC(@2), '-', $1, $3); }
  | expr '*' expr                     { $$ = ast_binop(LOC(@2), '*', $1, $3); }
  | expr '/' expr                     { $$ = ast_binop(LOC(@2), '/', $1, $3); }
  | expr '@' expr                     { $$ = ast_binop(LOC(@2), '@', $1, $3); }
  | '-' expr %prec UMINUS             { $$ = ast_neg(LOC(@1), $2); }
  | expr TK_POW expr                  { $$ = ast_binop(LOC(@2), '^', $1, $3); }
  | expr '(' callargs ')'             { $$ = ast_with_args(AST_CALL, LOC(@1), $1, $3); }
  | expr '.' IDENT                    { $$ = ast_node(AST_MEMBER, LOC(@3), $3, $1, NULL); }
  | expr '[' indices ']'              { $$ = ast_with_args(AST_INDEX, LOC(@2), $1, $3); }
  | NUMBER                            { $$ = ast_num(LOC(@1), $1); }
  | STRING                            { $$ = ast_node(AST_STR, LOC(@1), $1, NULL, NULL); }
  | IDENT                             { $$ = ast_node(AST_NAME, LOC(@1), $1, NULL, NULL); }
  | KW_STEP                           { $$ = ast_node(AST_NAME, LOC(@1), "step", NULL, NULL); } /* schedule = step(...) */
  | '(' expr ')'                      { $$ = $2; }
  | '[' opt_exprs ']'                 { $$ = ast_with_args(AST_LIST, LOC(@1), NULL, $2); }
  ;

exprs:
    expr                              { $$ = ast_seq_add(ast_seq(), $1); }
  | exprs ',' expr                    { $$ = ast_seq_add($1, $3); }
  ;

opt_exprs:
    %empty                            { $$ = ast_seq(); }
  | exprs
  ;

callargs:
    %empty                            { $$ = ast_seq(); }
  | callarg_list
  ;

callarg_list:
    callarg                           { $$ = ast_seq_add(ast_seq(), $1); }
  | callarg_list ',' callarg          { $$ = ast_seq_add($1, $3); }
  ;

callarg:
    expr
  | IDENT '=' expr                    { $$ = ast_node(AST_KWARG, LOC(@1), $1, $3, NULL); }
  ;

indices:
    index                             { $$ = ast_seq_add(ast_seq(), $1); }
  | indices ',' index                 { $$ = ast_seq_add($1, $3); }
  ;

index:
    expr
  | expr ':' expr                     { $$ = ast_node(AST_SLICE, LOC(@2), NULL, $1, $3); }
  | expr ':'                          { $$ = ast_node(AST_SLICE, LOC(@2), NULL, $1, NULL); }
  | ':' expr                          { $$ = ast_node(AST_SLICE, LOC(@1), NULL, NULL, $2); }
  | ':'                               { $$ = ast_node(AST_SLICE, LOC(@1), NULL, NULL, NULL); }
  ;

%%

/* `metric NAME = EXPR;` in a train block.  `metric` is not reserved (a
 * program may name a variable so): two names in a row are a metric or a
 * mistake, said here. */
static Ast *metric_stmt(Loc at, const char *word, Loc name_at, const char *name, Ast *value) {
  if (strcmp(word, "metric") != 0) {
    diag_error(name_at, "unexpected name '%s' after '%s' (a train block's 'metric NAME = EXPR;'?)", name, word);
    return NULL;
  }
  return ast_node(AST_METRIC, at, name, value, NULL);
}

static bool name_in(const char *name, const char *const *set) {
  for (; *set; set++)
    if (!strcmp(name, *set))
      return true;
  return false;
}

/* Tokens that can only continue an expression already read. */
static const char *const continuing[] = {
  "'+'", "'-'", "'*'", "'/'", "'@'", "'**'", "'=='", "'!='", "'<'", "'<='",
  "'>'", "'>='", "'('", "'['", "'.'", NULL,
};
/* Tokens that can start one. */
static const char *const starting[] = {
  "identifier", "number", "string", "'('", "'['", "'-'", "'step'", NULL,
};

/* The token the parser choked on, as a message names it. */
static const char *describe_lookahead(const ParseState *ps, yysymbol_kind_t tok) {
  if (tok == YYSYMBOL_YYEOF)
    return "end of file";
  if (tok == YYSYMBOL_STRING)
    return arena_printf("string %.*s%s", ps->tok_len > 24 ? 24 : ps->tok_len, ps->tok_text,
                        ps->tok_len > 24 ? "...\"" : "");
  return arena_printf("'%.*s'", ps->tok_len > 24 ? 24 : ps->tok_len, ps->tok_text);
}

/* "expected ';' before 'return'", "expected expression before ')'",
 * "unexpected '}'".  When an operand has just been read, the operators
 * that could continue it are left out of the list: "expected ';'" helps,
 * "expected '+', '-', ... or ';'" does not. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, ParseState *ps) {
  (void)scanner;
  yysymbol_kind_t expected[YYNTOKENS];
  int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
  if (n < 0)
    n = 0;
  yysymbol_kind_t tok = yypcontext_token(ctx);
  Loc at = LOC(*yypcontext_location(ctx));
  const char *got = describe_lookahead(ps, tok);

  bool after_operand = false, want_expr = false, want_close = false;
  for (int i = 0; i < n; i++) {
    const char *name = yysymbol_name(expected[i]);
    after_operand |= !strcmp(name, "'*'");
    want_expr |= !strcmp(name, "number");
    want_close |= !strcmp(name, "'}'");
  }

  if (tok == YYSYMBOL_YYEOF && want_close && ps->nopen > 0) {
    const OpenBrace *b = ps->open[ps->nopen - 1];
    diag_error(at, "expected '}' to close '%s' opened at %d:%d", b->what, b->at.line, b->at.col);
    return 0;
  }

  const char *names[YYNTOKENS];
  int k = 0;
  bool said_expr = false;
  for (int i = 0; i < n; i++) {
    const char *name = yysymbol_name(expected[i]);
    if (after_operand && name_in(name, continuing))
      continue;
    if (want_expr && name_in(name, starting)) {
      if (!said_expr)
        names[k++] = "expression";
      said_expr = true;
      continue;
    }
    names[k++] = name;
  }

  if (k == 0 || k > 4) {
    diag_error(at, "unexpected %s", got);
    return 0;
  }
  char list[512] = "";
  for (int i = 0; i < k; i++) {
    if (i > 0)
      strcat(list, i == k - 1 ? " or " : ", ");
    strcat(list, names[i]);
  }
  diag_error(at, "expected %s before %s", list, got);
  return 0;
}

static void yyerror(YYLTYPE *at, yyscan_t scanner, ParseState *ps, const char *msg) {
  (void)scanner;
  if (!strcmp(msg, "memory exhausted"))
    msg = "program nested too deeply";
  diag_error(LOC(*at), "%s", msg);
}

Ast *parse_file(const SrcFile *f) {
  ParseState ps;
  parse_state_init(&ps, f);
  ps.prog = ast_new(AST_PROGRAM, (Loc){f, 1, 1});
  yyparse(ps.scanner, &ps);
  parse_state_close(&ps);
  return ps.prog;
}
