#!/usr/bin/env python3
"""Write frontend.dict, the libFuzzer dictionary (-dict=) of the frontend
fuzz target: the words and operators of the language, taken from the
sources so that they stay in step with them:

  keywords           the keyword table in compiler/lex.l
  operators          the multi-character tokens and punctuation of lex.l
  names              every identifier-like string literal in the compiler's
                     lowering and checks (builtins, initialisers, optimizers,
                     hyperparameters, train-block keys, data readers, ...)
  stdlib             the models, functions and constants of stdlib/*.nn
  fragments          a few multi-token pieces that reach deeper code

Run from anywhere; the output is committed (review its diff).
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def main():
    words = {}

    def add(kind, w):
        if w and w not in words:
            words[w] = kind

    lex = read("compiler/lex.l")
    for w in re.findall(r'\{"([a-z0-9_]+)", KW_', lex):
        add("keyword", w)
    for w in ["**", "==", "!=", "<=", ">=", "..", "->", "//", "/*", "*/"]:
        add("operator", w)
    for c in "-+*/@=<>()[]{},;:.\"":
        add("operator", c)
    for src in ["compiler/lower.c", "compiler/sema.c", "compiler/shape.c"]:
        for w in re.findall(r'"([A-Za-z_][A-Za-z0-9_]{1,24})"', read(src)):
            add("name", w)
    for lib in sorted(os.listdir(os.path.join(ROOT, "stdlib"))):
        if lib.endswith(".nn"):
            add("stdlib", lib[:-3])
            for w in re.findall(r"^\s*(?:model|fn|const)\s+([A-Za-z_][A-Za-z0-9_]*)",
                                read("stdlib/" + lib), re.M):
                add("stdlib", w)
    for w in ['import "nn";', 'import "cnn";', "f32[B, ", "f32[", "i32[]", "-> f32[B, 1]",
              "fn forward(x: f32[B, 2]) -> f32[B, 1] {", "return ", "layer l = Dense(2, 2);",
              "param W: f32[2, 2] = xavier_uniform;", "optimizer = adam(lr = 0.01);",
              "loss = ", "epochs = 1;", "batch = 4;", "seed = 1;", "x: f32[2] = [[0, 1]];",
              "train M on d {", "data d {", "model M {", "for i in 0..3 {", "1e9", "0.5",
              "2147483648", "9223372036854775807", '"a\\b"']:
        add("fragment", w)
    out = ["# libFuzzer dictionary of the nnc frontend (tests/fuzz/make_dict.py writes it)."]
    for kind in ["keyword", "operator", "name", "stdlib", "fragment"]:
        out.append("")
        out.append(f"# {kind}s")
        for i, (w, k) in enumerate((w, k) for w, k in words.items() if k == kind):
            esc = w.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'{kind[:2]}_{i}="{esc}"')
    # bytes the text above cannot hold, in libFuzzer's escapes
    out += ['fr_nul="\\x00"', 'fr_newline="\\x0a"', 'fr_tab="\\x09"', 'fr_utf8="\\xc3\\xa9"']
    with open(os.path.join(HERE, "frontend.dict"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
