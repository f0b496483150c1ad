#!/usr/bin/env python3
"""Error reports after their first line: the source line with a caret under
the place (compile errors: the column; runtime errors: the whole line) and
"did you mean" for misspelt variables, methods and properties.

Usage: GALE=build/gale python3 tests/bad_input/test_diagnostics.py
Ends with "N passed, M failed"; exits non-zero on failure.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GALE = os.path.abspath(os.environ.get("GALE") or os.path.join(HERE, "..", "..", "build", "gale"))

# name, source, exit status, expected stderr lines (after "<file>:")
CASES = [
    ("caret under the column", "let x = 1\nlet y = (x + ]\n", 65,
     ["2:14: expected an expression", "    let y = (x + ]", "                 ^"]),
    ("tabs keep the caret aligned", "\tlet y = )\n", 65,
     ["1:10: expected an expression", "    \tlet y = )", "    \t        ^"]),
    ("error at end of input", "let x = (1 +", 65,
     ["1:13: unexpected end of input", "    let x = (1 +", "                ^"]),
    ("control bytes shown as ?", "let a = 1 \x01\n", 65,
     ["1:11: unexpected character", "    let a = 1 ?", "              ^"]),
    ("long line shows a window", "let s = 1" + " + 1" * 100 + " ]\n", 65, None),
    ("undefined variable with a suggestion", "let count = 1\nprint(cuont)\n", 70,
     ["2: undefined variable 'cuont'", "    print(cuont)", "    ^^^^^^^^^^^^",
      "    did you mean 'count'?"]),
    ("built-in suggested", "pirnt(1)\n", 70,
     ["1: undefined variable 'pirnt'", "    pirnt(1)", "    ^^^^^^^^", "    did you mean 'print'?"]),
    ("method suggestion", "let s = \"a\"\nprint(s.uper())\n", 70,
     ["2: string has no method 'uper'", "    print(s.uper())", "    ^^^^^^^^^^^^^^^",
      "    did you mean 'upper'?"]),
    ("property suggestion", "class B { fn init() { self.value = 1 } }\nlet b = B()\n  print(b.valeu)\n", 70,
     ["3: undefined property 'valeu'", "      print(b.valeu)", "      ^^^^^^^^^^^^^^",
      "    did you mean 'value'?"]),
    ("no suggestion when nothing is close", "print(zzqqxx)\n", 70,
     ["1: undefined variable 'zzqqxx'", "    print(zzqqxx)", "    ^^^^^^^^^^^^^"]),
]


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="gale-diag-") as tmp:
        for name, src, status, want in CASES:
            path = os.path.join(tmp, "t.gale")
            with open(path, "w") as f:
                f.write(src)
            p = subprocess.run([GALE, path], capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
            err = p.stderr.decode("utf-8", "replace").splitlines()
            problems = []
            if p.returncode != status:
                problems.append("exit %d, expected %d" % (p.returncode, status))
            if want is None:
                # a window: every shown line is bounded and the caret is there
                if len(err) < 3 or any(len(l) > 120 for l in err[1:3]) or not err[2].strip() == "^":
                    problems.append("no bounded window: %r" % err[:3])
            else:
                got = [err[0][len(path) + 1:] if err and err[0].startswith(path + ":") else (err[0] if err else "")]
                got += err[1:len(want)]
                if got != want:
                    problems.append("stderr %r, expected %r" % (err[:len(want) + 1], want))
                if status == 70 and "did you mean" not in want[-1] and any("did you mean" in l for l in err):
                    problems.append("unexpected suggestion: %r" % err)
            if problems:
                failed += 1
                print("FAIL %s" % name)
                for pr in problems:
                    print("     " + pr)
            else:
                passed += 1
                print("ok   %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
