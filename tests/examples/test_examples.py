#!/usr/bin/env python3
"""Runs every example program and checks what it prints.

Examples are examples/*.gale and examples/ffi/*.gale (examples/lib/ holds
modules the examples import; they are not run by themselves). Each runs from
the project root as `gale examples/NAME.gale`, must exit with status 0, write
nothing to standard error, and print exactly its expected output, taken from:
  examples/NAME.out       the whole standard output, if that file exists;
  # expect: TEXT          otherwise, one comment per output line, in order
                          (the convention of tests/conformance/run.py).
In an expected line, `{...}` matches any text: examples that show memory
figures print them for the reader and check relations ("fell: true"), and the
figures themselves are written `{...}`.

examples/*.gale also need a header: a first line `# NAME.gale — what it shows`
and, in the opening comment, the command that runs it (`build/gale ...`); and
examples/README.md must link each of them (its other links must resolve;
embed/ may still be missing).

If examples/embed/ exists, each of its C files that defines main is compiled
with the files that do not, against include/ and BUILD/libgale.a only, with
warnings as errors, as an embedder would build it. When examples/embed/NAME.out
exists beside NAME.c (or expected.out, for a single program), the program also
runs from examples/embed/, with the arguments its opening comment shows
(`./NAME ARGS`), and must exit 0 and print exactly that.

Usage: GALE=build/gale BUILD=build python3 tests/examples/test_examples.py [names...]
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
TIMEOUT = 120

EXPECT = re.compile(r"#\s*expect:\s?(.*)$")


def clean_env():
    # The examples must not depend on the caller's GALE* settings.
    return {k: v for k, v in os.environ.items() if not k.startswith("GALE")}


def expected_output(path):
    """The expected lines of an example, or None when it declares none."""
    out = os.path.splitext(path)[0] + ".out"
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            return f.read().splitlines()
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = EXPECT.search(line.rstrip("\n"))
            if m:
                lines.append(m.group(1))
    return lines or None


def run_example(path):
    want = expected_output(path)
    if want is None:
        return "no expected output (add %s.out or # expect: comments)" % os.path.splitext(
            os.path.basename(path))[0]
    rel = os.path.relpath(path, ROOT)
    try:
        p = subprocess.run([GALE, rel], cwd=ROOT, env=clean_env(), capture_output=True,
                           timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "timed out after %d s" % TIMEOUT
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0:
        return "exit status %d\nstderr:\n%s" % (p.returncode, err)
    if err:
        return "wrote to standard error:\n%s" % err
    return compare(want, out.splitlines())


def check_header(path):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        head = []
        for line in f:
            if not line.startswith("#"):
                break
            head.append(line)
    if not head or not re.match(r"#\s*%s\s+—\s+\S" % re.escape(name), head[0]):
        return "first line should be '# %s — what it shows'" % name
    if not any("build/gale" in line or "make run" in line for line in head):
        return "the opening comment should say how to run it (build/gale ...)"
    return None


def defines_main(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return re.search(r"\bint\s+main\s*\(", f.read()) is not None


def run_args(source, stem):
    """The arguments the program's own comment runs it with (`./NAME ARGS`)."""
    with open(source, encoding="utf-8", errors="replace") as f:
        m = re.search(r"\./%s[ \t]+([^\n*]*)" % re.escape(stem), f.read())
    return m.group(1).split() if m else []


def build_embed(embed_dir):
    """Builds each program of examples/embed/: every C file that defines main,
    linked with the C files that do not. Runs it when expected.out exists
    (for a single program) or NAME.out does (beside NAME.c)."""
    sources = sorted(glob.glob(os.path.join(embed_dir, "*.c")))
    if not sources:
        return "examples/embed/ has no .c files"
    mains = [s for s in sources if defines_main(s)]
    if not mains:
        return "no C file in examples/embed/ defines main"
    shared = [s for s in sources if s not in mains]
    lib = os.path.join(BUILD, "libgale.a")
    if not os.path.exists(lib):
        return "%s is missing: build first" % lib
    cc = os.environ.get("CC", "cc")
    tmp = tempfile.mkdtemp(prefix="gale-embed-")
    try:
        for main in mains:
            stem = os.path.splitext(os.path.basename(main))[0]
            exe = os.path.join(tmp, stem)
            # As an embedder would: only include/ on the include path.
            cmd = [cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                   "-I", os.path.join(ROOT, "include"), "-o", exe, main] + shared + \
                  [lib, "-lffi", "-ldl", "-lm", "-lpthread"] + sanitizer_flags(lib)
            p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
            if p.returncode != 0:
                return "%s does not build:\n%s\n%s" % (
                    stem, " ".join(cmd), p.stderr.decode("utf-8", "replace"))
            expected = os.path.join(embed_dir, stem + ".out")
            if len(mains) == 1 and not os.path.exists(expected):
                expected = os.path.join(embed_dir, "expected.out")
            if not os.path.exists(expected):
                continue  # how to run it is the program's own business
            try:
                r = subprocess.run([exe] + run_args(main, stem), cwd=embed_dir, env=clean_env(), capture_output=True,
                                   timeout=TIMEOUT, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return "%s timed out after %d s" % (stem, TIMEOUT)
            if r.returncode != 0:
                return "%s exited with status %d\nstderr:\n%s" % (
                    stem, r.returncode, r.stderr.decode("utf-8", "replace"))
            with open(expected, encoding="utf-8") as f:
                want = f.read().splitlines()
            problem = compare(want, r.stdout.decode("utf-8", "replace").splitlines())
            if problem:
                return "%s: %s" % (stem, problem)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_index():
    """examples/README.md links every example, and every link resolves."""
    index = os.path.join(ROOT, "examples", "README.md")
    if not os.path.exists(index):
        return "examples/README.md is missing"
    with open(index, encoding="utf-8") as f:
        text = f.read()
    links = re.findall(r"\]\(([^)#\s]+)\)", text)
    problems = []
    for link in links:
        if not re.match(r"[a-z]+://", link) and not os.path.exists(
                os.path.join(ROOT, "examples", link)) and link.rstrip("/") != "embed":
            problems.append("broken link %s" % link)
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.gale"))):
        if os.path.basename(path) not in links:
            problems.append("%s is not listed" % os.path.basename(path))
    return "; ".join(problems) or None


def collect():
    tests = []
    own = sorted(glob.glob(os.path.join(ROOT, "examples", "*.gale")))
    ffi = sorted(glob.glob(os.path.join(ROOT, "examples", "ffi", "*.gale")))
    for path in own + ffi:
        name = os.path.relpath(path, os.path.join(ROOT, "examples"))
        tests.append((name, lambda path=path: run_example(path)))
    for path in own:
        name = "header " + os.path.basename(path)
        tests.append((name, lambda path=path: check_header(path)))
    tests.append(("examples/README.md index", check_index))
    embed = os.path.join(ROOT, "examples", "embed")
    if os.path.isdir(embed):
        tests.append(("embed (build and run)", lambda: build_embed(embed)))
    return tests


def main(argv):
    if not os.access(GALE, os.X_OK):
        print("%s is missing: build first (make)" % GALE)
        print("0 passed, 1 failed")
        return 1
    tests = collect()
    if argv:
        tests = [t for t in tests if any(a in t[0] for a in argv)]
    passed = failed = 0
    for name, fn in tests:
        try:
            problem = fn()
        except Exception as e:  # a broken test is a failure, not a crash of the run
            problem = "%s: %s" % (type(e).__name__, e)
        if problem is None:
            passed += 1
            print("PASS %s" % name)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, problem))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
