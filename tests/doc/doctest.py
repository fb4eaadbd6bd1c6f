#!/usr/bin/python3
"""doctest.py NNC DOC.md — runs the commands a document shows and diffs the
output it shows against the real one (as rustdoc or Python's doctest do).

Only fenced blocks whose info string has the word `doctest` take part:

  ```nn doctest file=xor.nn      the block is written to xor.nn in the
                                 document's scratch directory (so the
                                 program shown is the program run)
  ```sh doctest                  `$ CMD` lines are commands, run in order by
                                 sh in that directory with `nnc` on PATH
                                 (stdout and stderr together); the lines up
                                 to the next `$ ` are CMD's expected output.
                                 A line `...` stands for any lines (none
                                 included); `...` inside a line for any text.

Blocks run in document order in one scratch directory.  Exits 1 naming
the document's line of each difference, 2 when the document has no
command to run (so the test cannot pass by finding nothing).
Python's standard library only.
"""
import os, re, shutil, subprocess, sys, tempfile


def blocks(path):
    """(info words, first line number, lines) of every fenced doctest block."""
    out, cur = [], None
    for no, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if cur is None:
            m = re.match(r"^```(\S.*)$", line)
            if m and "doctest" in m.group(1).split():
                cur = (m.group(1).split(), no + 1, [])
            elif line.startswith("```"):
                cur = ("skip", 0, [])
        elif line.startswith("```"):
            if cur[0] != "skip":
                out.append(cur)
            cur = None
        else:
            cur[2].append(line)
    return out


def matches(want, got):
    """Whether the expected lines (with ... wildcards) match the real ones."""
    if not want:
        return not got
    if want[0] == "...":
        return any(matches(want[1:], got[i:]) for i in range(len(got) + 1))
    if not got:
        return False
    pat = "^" + ".*".join(re.escape(p) for p in want[0].split("...")) + "$"
    return re.match(pat, got[0]) is not None and matches(want[1:], got[1:])


def commands(first, lines):
    """(doc line, command, expected lines) of a command block."""
    out = []
    for i, line in enumerate(lines):
        if line.startswith("$ "):
            out.append((first + i, line[2:], []))
        elif out:
            out[-1][2].append(line.rstrip())
    return out


def main():
    nnc, doc = os.path.abspath(sys.argv[1]), sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="nnc-doctest.")
    try:
        bindir = os.path.join(tmp, ".bin")
        os.mkdir(bindir)
        os.symlink(nnc, os.path.join(bindir, "nnc"))
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), COLUMNS="80")
        ran = failed = 0
        for info, first, lines in blocks(doc):
            files = [w[5:] for w in info if w.startswith("file=")]
            if files:
                with open(os.path.join(tmp, files[0]), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                continue
            for no, cmd, want in commands(first, lines):
                while want and want[-1] == "":
                    want.pop()
                r = subprocess.run(["sh", "-c", cmd], cwd=tmp, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=300)
                got = [l.rstrip() for l in r.stdout.decode("utf-8", "replace").split("\n")]
                while got and got[-1] == "":
                    got.pop()
                ran += 1
                if matches(want, got):
                    print("ok   %s:%d  $ %s" % (doc, no, cmd))
                    continue
                failed += 1
                print("FAIL %s:%d  $ %s  (exit %d)\n  shown:" % (doc, no, cmd, r.returncode))
                print("\n".join("    | " + l for l in want) or "    (nothing)")
                print("  real:")
                print("\n".join("    | " + l for l in got) or "    (nothing)")
        if ran == 0:
            print("FAIL: %s shows no doctest command" % doc)
            return 2
        print("%d of %d commands shown in %s give the output shown" % (ran - failed, ran, doc))
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
