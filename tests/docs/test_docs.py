#!/usr/bin/env python3
"""Runs the examples written in the documentation and checks their output.

Documents: docs/*.md and README.md. In them, a fenced code block whose
language is `gale` is an example:

  ```gale                 a program. When the next block (blank lines may come
  print(1 + 2)            between, nothing else) is an `output` block, the
  ```                     program is run and must print exactly that text;
  ```output               otherwise it must at least compile
  3                       (`gale --disasm`, exit status 0).
  ```

  ```gale file=lib/util.gale
                          not run: written as that file beside the examples
                          of the same document, so later examples may
                          `import "lib/util"`.

Each program is written to example.gale in a scratch folder shared by the
examples of one document, and run there as `gale example.gale` with empty
standard input and no GALE* environment variables, so error messages read
`example.gale:LINE: message`. The text compared with the output block is its
standard output followed by its standard error. In the output block, `{...}`
matches any text within a line (for figures that vary, such as memory
sizes). A program killed by a signal or running longer than 60 s fails.

A ```c block that defines `main` is a C program embedding Gale: it is
compiled with warnings as errors against include/gale.h and BUILD/libgale.a
(as `cc -Iinclude prog.c build/libgale.a -lffi -ldl -lm`), run in the same
scratch folder, must exit with status 0, and, when an `output` block follows,
must print exactly that. Other blocks (plain ```, ```sh, C fragments
without `main`) are not checked; the run lists untagged blocks that look like
Gale programs as NOTE lines, so they can be tagged, and relative links to
files that do not exist, also as NOTE lines.

Usage: GALE=build/gale BUILD=build python3 tests/docs/test_docs.py [names...]
Ends with the line "N passed, M failed"; exits non-zero on failure.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from outputs import compare, sanitizer_flags  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GALE = os.path.abspath(os.environ.get("GALE", os.path.join(ROOT, "build", "gale")))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
TIMEOUT = 60

# Documents whose owner has not finished them yet may be listed here, each
# with the reason, to skip their examples. Keep it empty when possible.
SKIP = {}

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)\s*(.*)$")


def blocks(path):
    """Yields (line, language, attributes, text) for each fenced block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            yield (i + 1, None, {}, lines[i])
            i += 1
            continue
        indent, fence, lang, rest = m.group(1), m.group(2), m.group(3).lower(), m.group(4)
        attrs = dict(re.findall(r"(\w+)=(\S+)", rest))
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and close.strip(fence[0]) == "":
                break
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1  # the closing fence (or the end of an unclosed block)
        yield (start, lang, attrs, "\n".join(body) + ("\n" if body else ""))


GALE_LOOK = re.compile(r"^\s*(print\(|let |fn |class |import )", re.M)


def examples(path, notes=None):
    """The checks of one document: (line, kind, source, expected, file name).
    Untagged blocks that look like Gale are appended to notes."""
    found = []
    pending = None  # a gale block waiting to see whether an output block follows
    for line, lang, attrs, text in blocks(path):
        if lang is None:
            if text.strip() and pending:
                found.append(pending)
                pending = None
            continue
        if lang == "output" and pending:
            kind = "c-run" if pending[1] == "c" else "run"
            found.append((pending[0], kind, pending[2], text, None))
            pending = None
            continue
        if pending:
            found.append(pending)
            pending = None
        if lang == "c" and re.search(r"\bint\s+main\s*\(", text):
            pending = (line, "c", text, None, None)
        elif lang == "" and notes is not None and GALE_LOOK.search(text):
            notes.append(line)
        if lang == "gale":
            if "file" in attrs:
                found.append((line, "file", text, None, attrs["file"]))
            else:
                pending = (line, "compile", text, None, None)
    if pending:
        found.append(pending)
    return found


def run(workdir, args, program=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALE")}
    try:
        p = subprocess.run([program] if program else [GALE] + args, cwd=workdir, env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % TIMEOUT
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        return None, "killed by signal %d\n%s" % (-p.returncode, out)
    return p.returncode, out


def check(workdir, kind, source, expected, filename):
    if kind == "file":
        target = os.path.join(workdir, filename)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(source)
        return None
    if kind in ("c", "c-run"):
        return check_c(workdir, source, expected)
    with open(os.path.join(workdir, "example.gale"), "w", encoding="utf-8") as f:
        f.write(source)
    if kind == "compile":
        status, out = run(workdir, ["--disasm", "example.gale"])
        if status is None:
            return out
        if status != 0:
            return "does not compile (exit status %d):\n%s" % (status, out[-2000:])
        return None
    status, out = run(workdir, ["example.gale"])
    if status is None:
        return out
    problem = compare(expected.splitlines(), out.splitlines(), "output line")
    if problem:
        return "%s\nfull output (exit status %d):\n%s" % (problem, status, out)
    return None


def check_c(workdir, source, expected):
    lib = os.path.join(BUILD, "libgale.a")
    if not os.path.exists(lib):
        return "%s is missing: build first" % lib
    src = os.path.join(workdir, "example.c")
    exe = os.path.join(workdir, "example")
    with open(src, "w", encoding="utf-8") as f:
        f.write(source)
    cmd = [os.environ.get("CC", "cc"), "-std=gnu11", "-Wall", "-Wextra", "-Werror",
           "-I", os.path.join(ROOT, "include"), "-o", exe, src, lib,
           "-lffi", "-ldl", "-lm", "-lpthread"] + sanitizer_flags(lib)
    p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        return "does not compile:\n%s" % p.stderr.decode("utf-8", "replace")[-3000:]
    status, out = run(workdir, [], program=exe)
    if status is None:
        return out
    if status != 0:
        return "exit status %d:\n%s" % (status, out)
    if expected is not None:
        problem = compare(expected.splitlines(), out.splitlines(), "output line")
        if problem:
            return "%s\nfull output:\n%s" % (problem, out)
    return None


def missing_links(doc):
    """Relative link targets of a document that do not exist."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    missing = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        if not os.path.exists(os.path.join(os.path.dirname(doc), target)) and target not in missing:
            missing.append(target)
    return missing


def documents():
    docs = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    readme = os.path.join(ROOT, "README.md")
    return ([readme] if os.path.exists(readme) else []) + docs


def main(argv):
    if not os.access(GALE, os.X_OK):
        print("%s is missing: build first (make)" % GALE)
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for doc in documents():
        rel = os.path.relpath(doc, ROOT)
        if rel in SKIP:
            print("SKIP %s: %s" % (rel, SKIP[rel]))
            continue
        notes = []
        checks = examples(doc, notes)
        if argv and not any(a in rel for a in argv):
            continue
        for line in notes:
            print("NOTE %s:%d: an untagged block that looks like Gale is not checked" % (rel, line))
        for target in missing_links(doc):
            print("NOTE %s: links to %s, which does not exist (yet)" % (rel, target))
        workdir = tempfile.mkdtemp(prefix="gale-docs-")
        try:
            for line, kind, source, expected, filename in checks:
                label = {"file": "file %s" % filename, "c": "c compile", "c-run": "c run"}
                name = "%s:%d (%s)" % (rel, line, label.get(kind, kind))
                try:
                    problem = check(workdir, kind, source, expected, filename)
                except Exception as e:  # a broken check is a failure, not a crash of the run
                    problem = "%s: %s" % (type(e).__name__, e)
                if kind == "file" and problem is None:
                    continue  # writing a module file is not a check by itself
                if problem is None:
                    passed += 1
                    print("PASS %s" % name)
                else:
                    failed += 1
                    print("FAIL %s: %s" % (name, problem))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
