#!/usr/bin/env python3
"""Gale beside Lua 5.4 and CPython on the same programs, in one run.

For each benchmark every implementation runs the same workload (best of --reps
runs by wall time, 3 by default, the implementations taking turns); outputs
must agree. Peak RSS is that of the fastest run. Gale's figures are reported as ratios to
the others, with peak RSS beside time. Then: scaling of binary-trees and map-ops
with the size of the work, GC pauses from GALEDEBUG=gctrace=1, and the allocator
micro-benchmark beside glibc malloc.

Usage: bench/run.py [--build DIR] [--reps N] [--quick] [--only NAME ...]
"""
import argparse
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

BENCHES = [  # name, default argument, quick argument
    ("fib", "32", "27"),
    ("binary_trees", "16", "12"),
    ("nbody", "500000", "50000"),
    ("spectral_norm", "1000", "200"),
    ("method_call", "10000000", "1000000"),
    ("string_build", "1000000", "100000"),
    ("map_ops", "1000000", "100000"),
    ("list_ops", "5000000", "500000"),
]


def run(cmd, env=None):
    """Run cmd; return (wall seconds, peak RSS KiB, stdout, stderr, status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss of children is the max over all reaped children, so measure
    # through /usr/bin/time when it is there, which reports this child alone.
    return wall, after.ru_maxrss, p.stdout.decode(), p.stderr.decode(), p.returncode


def timed(cmd, reps, env=None):
    best = None
    tool = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    for _ in range(reps):
        if tool:
            full = [tool, "-f", "@@%e %M"] + cmd
            t0 = time.perf_counter()
            p = subprocess.run(full, capture_output=True, env=env)
            wall = time.perf_counter() - t0
            err = p.stderr.decode()
            m = re.search(r"@@([\d.]+) (\d+)\s*$", err)
            rss = int(m.group(2)) if m else 0
            err = err[:m.start()] if m else err
            res = (wall, rss, p.stdout.decode(), err, p.returncode)
        else:
            res = run(cmd, env)
        if best is None or res[0] < best[0]:
            best = res
    return best


def norm(out):
    return "\n".join(" ".join(line.split()) for line in out.strip().splitlines())


def debian(name):
    """Debian's build of name: the comparison is with the distribution's Lua
    and CPython, and a version manager's shim (pyenv) may come first on PATH."""
    path = os.path.join("/usr/bin", name)
    return path if os.access(path, os.X_OK) else shutil.which(name)


def version(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return p.stdout.decode().strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def impls(build):
    gale = os.path.join(build, "gale")
    out = [("gale", lambda n, a: [gale, os.path.join(HERE, "gale", n + ".gale"), a])]
    lua = debian("lua5.4")
    if lua:
        out.append(("lua", lambda n, a: [lua, os.path.join(HERE, "lua", n + ".lua"), a]))
        print("lua: %s (%s)" % (lua, version([lua, "-v"])))
    py = debian("python3")
    if py:
        out.append(("python", lambda n, a: [py, os.path.join(HERE, "python", n + ".py"), a]))
        print("python: %s (%s)" % (py, version([py, "--version"])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    imp = impls(build)
    names = [n for n, _ in imp]
    print("machine: %s, %d cpus; implementations: %s" % (os.uname().machine, os.cpu_count(), ", ".join(names)))
    print()
    hdr = "%-14s" % "benchmark" + "".join("%12s" % ("%s s" % n) for n in names) + \
          "".join("%12s" % ("%s MiB" % n) for n in names) + \
          "".join("%12s" % ("gale/%s" % n) for n in names[1:]) + "%12s" % "vs best"
    print(hdr)
    print("-" * len(hdr))
    ratios = []
    failed = False
    for bname, full, quick in BENCHES:
        if a.only and bname not in a.only:
            continue
        arg = quick if a.quick else full
        # Rounds go through every implementation in turn, so a change in the
        # machine's load during the run falls on all of them alike.
        res = {}
        for _ in range(a.reps):
            for iname, mk in imp:
                r = timed(mk(bname, arg), 1)
                if iname not in res or r[0] < res[iname][0]:
                    res[iname] = r
        outs = {k: norm(v[2]) for k, v in res.items()}
        bad = [k for k, v in res.items() if v[4] != 0]
        differ = [k for k in outs if outs[k] != outs["gale"]]
        line = "%-14s" % bname
        line += "".join("%12.3f" % res[n][0] for n in names)
        line += "".join("%12.1f" % (res[n][1] / 1024.0) for n in names)
        g = res["gale"][0]
        for n in names[1:]:
            line += "%12.2f" % (g / res[n][0] if res[n][0] > 0 else float("nan"))
        others = [res[n][0] for n in names[1:] if n not in bad]
        if others:
            r = g / min(others)
            ratios.append(r)
            line += "%12.2f" % r
        print(line)
        for k in bad:
            failed = True
            print("    %s failed (status %d): %s" % (k, res[k][4], res[k][3].strip()[:200]))
        for k in differ:
            if k not in bad:
                failed = True
                print("    output of %s differs from gale's" % k)
    if ratios:
        gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print("\ngeometric mean of Gale's time / the fastest other: %.2f" % gm)

    if not a.only:
        scaling(build, imp, a)
        pauses(build, a)
        allocbench(build)
    sys.exit(1 if failed else 0)


def scaling(build, imp, a):
    print("\nscaling (time per unit of work, microseconds):")
    cases = [("binary_trees", ["14", "16", "18"] if not a.quick else ["10", "12"],
              lambda s: 2 ** (int(s) + 1)),
             ("map_ops", ["250000", "1000000", "4000000"] if not a.quick else ["50000", "100000"],
              lambda s: int(s))]
    for bname, sizes, units in cases:
        for iname, mk in imp:
            cells = []
            for s in sizes:
                r = timed(mk(bname, s), a.reps)  # best of reps, as the table
                cells.append("%s=%.4f" % (s, r[0] / units(s) * 1e6))
            print("  %-13s %-7s %s" % (bname, iname, "  ".join(cells)))


def pauses(build, a):
    gale = os.path.join(build, "gale")
    depth = "12" if a.quick else "16"
    env = dict(os.environ, GALEDEBUG="gctrace=1")
    r = subprocess.run([gale, os.path.join(HERE, "gale", "binary_trees.gale"), depth],
                       capture_output=True, env=env)
    pat = re.compile(r"^gc \d+ @[\d.]+s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock.*?(\d+)->(\d+)->(\d+) MB")
    worst = 0.0
    per_mib = []
    n = 0
    for line in r.stderr.decode().splitlines():
        m = pat.match(line)
        if not m:
            continue
        n += 1
        pause = sum(float(m.group(i)) for i in (1, 2, 3))
        worst = max(worst, pause)
        live = max(int(m.group(6)), 1)
        per_mib.append(pause / live)
    print("\nGC pauses, binary_trees depth %s: %d collections" % (depth, n))
    if n:
        print("  longest pause %.3f ms; median pause per MiB of live heap %.3f ms"
              % (worst, sorted(per_mib)[len(per_mib) // 2]))


def allocbench(build):
    exe = os.path.join(build, "allocbench")
    if os.path.exists(exe):
        print("\nallocator (ns per allocation, collection included):")
        r = subprocess.run([exe], capture_output=True)
        sys.stdout.write(r.stdout.decode())


if __name__ == "__main__":
    main()
