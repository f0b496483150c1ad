#!/usr/bin/env python3
"""Fault injection: GALEDEBUG=failalloc=N makes the N-th heap allocation
fail. For each small script below, N sweeps over every allocation the script
makes (counted first with memstats()["Mallocs"]), and each run must:

  - end with exit 0, or exit 70 (65 when the compiler was running) with
    "out of memory" ending the first line of standard error (including
    "cannot create the VM: out of memory" while the VM is being built);
  - never die of a signal or a sanitizer report, never hang;
  - pass the heap's consistency checks: every script ends by calling
    memstats(), whose readMemStats checks abort the process on a mismatch;
  - when it exits 0, either print exactly what a run without faults prints,
    or show where the failure went: a caught "out of memory" or a standard
    module that could not be opened. A failure silently swallowed into a
    wrong answer fails the test.

One script is also swept with gcstress=1 (a collection at every
allocation) at a stride. Under a sanitizer build every 7th N is run.
Usage: GALE=build/gale python3 tests/failalloc/test_failalloc.py
Ends with "N passed, M failed"; exits non-zero on failure.
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GALE = os.path.abspath(os.environ.get("GALE") or os.path.join(ROOT, "build", "gale"))

with open(GALE, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()

TAIL = 'runtime.gc()\nlet ms = memstats()\nprint("end", ms["HeapAlloc"] > 0)\n'

SCRIPTS = {
    "values": '''
let xs = []
for i in range(40) { xs.push("item ${i}") }
let m = {}
for x in xs { m[x] = len(x) }
print(len(m), xs[3], m["item 7"])
let s = ""
for i in range(20) { s = s + str(i) }
print(s)
print([1, [2, 3], {"k": [4]}], 2.5, nil, true)
''',
    "classes": '''
class Point {
  fn init(x, y) { self.x = x; self.y = y }
  fn toString() { return "(${self.x}, ${self.y})" }
}
class P3 < Point {
  fn init(x, y, z) { super.init(x, y); self.z = z }
}
let ps = []
for i in range(10) { ps.push(P3(i, i * 2, i * 3)) }
print(ps[4], str(ps[1]))
fn make(n) { let k = n; return fn(d) { k += d; return k } }
let f = make(10)
f(1)
print(f(2))
''',
    "errors": '''
fn thrower(n) { if n == 0 { throw error("deep") } return thrower(n - 1) }
try { thrower(12) } catch e { print("caught:", e.message) }
try { let x = 1 + "a" } catch e { print("caught:", e.message) }
let r = [5, 3, 9, 1, 7].sort(fn(a, b) { return a < b })
print(r, "a,b,c".split(","), "pad".upper())
try { let big = []; for i in range(30) { big.push([i]) } print(len(big)) } catch e { print("caught:", e.message) }
''',
    "compile": '''
fn a(x) { return x + 1 }
fn b(x) { return a(x) * 2 }
class K { fn m(v) { return b(v) - 1 } fn n() { return [1, 2, 3].map(fn(q) { return q * q }) } }
let t = K()
print(t.m(3), t.n())
let src = 0
for i in range(5) { src += i; if src > 6 { break } }
print(src, "x${src}y${t.m(1)}z")
''',
}

# Scripts swept with gcstress too (a stride of N: each run collects often).
STRESS = {"classes": 5}


def run(path, debug, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != "GALEDEBUG"}
    if debug:
        env["GALEDEBUG"] = debug
    try:
        p = subprocess.run([GALE, path], stdin=subprocess.DEVNULL, capture_output=True,
                           env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "timed out"
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def judge(n, status, out, err, baseline):
    where = "failalloc=%d" % n
    first = err.splitlines()[0] if err else ""
    if status is None:
        return "%s: hung" % where
    if status < 0:
        return "%s: killed by signal %d: %r" % (where, -status, err[-400:])
    if "AddressSanitizer" in err or "runtime error:" in err or "runtime: " in err:
        return "%s: sanitizer or consistency report: %r" % (where, err[:400])
    if status in (65, 70):
        # 65: the failure hit the compiler, which reports it as its error
        if not first.endswith("out of memory"):
            return "%s: exit %d with %r" % (where, status, first)
        return None
    if status != 0:
        return "%s: exit status %d: %r" % (where, status, err[:200])
    lines = out.splitlines()
    if not lines or not lines[-1].startswith("end"):
        return "%s: exit 0 without reaching the end: %r" % (where, out[-200:])
    for line in lines:
        if line.startswith("caught:") and "out of memory" not in line and line not in baseline:
            return "%s: caught something else: %r" % (where, line)
    accounted = any("out of memory" in line for line in lines) or "cannot open module" in err
    if out != baseline and not accounted:
        return "%s: different output with no error shown:\n%s\nexpected:\n%s" % (where, out, baseline)
    return None


def sweep(name, src, tmp, pool, stress_stride=None):
    path = os.path.join(tmp, name + ".gale")
    with open(path, "w") as f:
        f.write(src + TAIL)
    status, baseline, err = run(path, None)
    if status != 0:
        return 0, ["%s: does not run cleanly: %r" % (name, err[:300])]
    counter = os.path.join(tmp, name + "_count.gale")
    with open(counter, "w") as f:
        f.write(src + TAIL + 'print(memstats()["Mallocs"])\n')
    total = int(run(counter, None)[1].split()[-1]) + 20
    stride = 7 if SANITIZED else 1
    extra = ""
    if stress_stride:
        stride *= stress_stride
        extra = ",gcstress=1"
    ns = list(range(1, total + 1, stride))
    futures = {n: pool.submit(run, path, "failalloc=%d%s" % (n, extra)) for n in ns}
    problems = []
    for n in ns:
        msg = judge(n, *futures[n].result(), baseline)
        if msg:
            problems.append("%s%s: %s" % (name, " (gcstress)" if extra else "", msg))
    return len(ns), problems


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="gale-failalloc-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [(name, src, None) for name, src in SCRIPTS.items()]
        jobs += [(name, SCRIPTS[name], stride) for name, stride in STRESS.items()]
        for name, src, stride in jobs:
            runs, problems = sweep(name, src, tmp, pool, stride)
            label = "%s%s" % (name, " under gcstress" if stride else "")
            if problems:
                failed += 1
                print("FAIL %s (%d runs, %d bad)" % (label, runs, len(problems)))
                for p in problems[:10]:
                    print("     " + p)
            else:
                passed += 1
                print("ok   %s: %d runs, each allocation failed once" % (label, runs), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
