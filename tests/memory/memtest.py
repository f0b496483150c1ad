"""Shared helpers for the memory system tests (tests/memory/test_*.py).

These tests run Gale scripts from bench/memory/ and compare what the runtime
reports with what the kernel reports for the process (/proc/<pid>/smaps and
/proc/<pid>/status). They need Linux and the built gale program: GALE names
it (default build/gale), and the repository root is two levels up.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GALE = os.environ.get("GALE") or os.path.join(ROOT, "build", "gale")
BENCH = os.path.join(ROOT, "bench", "memory")
MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")

failures = []
passes = 0


def skip_if_sanitized():
    """RSS means nothing under AddressSanitizer (shadow memory, quarantine),
    and a 500 MiB spike is slow there: these tests only run on plain builds."""
    with open(GALE, "rb") as f:
        data = f.read()
    if b"__asan_init" in data or b"__tsan_init" in data:
        print("skipped: %s is a sanitizer build" % GALE)
        sys.exit(0)


def check(cond, what):
    """Record one assertion; the test exits non-zero at the end if any failed."""
    global passes
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if cond:
        passes += 1
    else:
        failures.append(what)


def finish():
    print("%d passed, %d failed" % (passes, len(failures)))
    if failures:
        sys.exit(1)


def script(name):
    return os.path.join(BENCH, name)


def clean_env(extra=None):
    """The environment without the runtime's settings, plus extra."""
    e = dict(os.environ)
    for k in ("GALEDEBUG", "GALEGC", "GALEMEMLIMIT"):
        e.pop(k, None)
    if extra:
        e.update(extra)
    return e


def run(name, args=(), env=None, timeout=120):
    """Runs a bench/memory script to completion; returns (stdout, stderr)."""
    e = clean_env(env)
    p = subprocess.run([GALE, script(name)] + list(args), env=e, capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        print(p.stdout)
        print(p.stderr)
        raise SystemExit("%s exited with status %d" % (name, p.returncode))
    return p.stdout, p.stderr


def results(out):
    """The key=value pairs of every RESULT line, merged."""
    r = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            for kv in line.split()[1:]:
                k, _, v = kv.partition("=")
                r[k] = v
    return r


# ---- /proc/<pid>/smaps ----

_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) (\S+) (\S+) (\d+)\s*(.*)$")
_SPECIAL = ("[heap]", "[stack]", "[vvar]", "[vdso]", "[vsyscall]", "[vvar_vclock]")


def mappings(pid):
    """Every mapping of pid: dicts with start, end, perms, inode, path, rss
    (bytes)."""
    maps = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = _HEADER.match(line)
            if m:
                cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16),
                       "perms": m.group(3), "inode": int(m.group(6)),
                       "path": m.group(7).strip(), "rss": 0}
                maps.append(cur)
            elif line.startswith("Rss:") and cur is not None:
                cur["rss"] = int(line.split()[1]) * 1024
    return maps


def runtime_mappings(pid):
    """The mappings that belong to Gale's runtime, and the anonymous ones
    that do not.

    The runtime maps memory only with anonymous private mmap: the arenas
    (from the hint addresses at 0x00c000000000) and its metadata (page
    summaries, scavenge index, span and arena structures, persistentalloc
    chunks, mark bits, work buffers). Not the runtime's: file mappings,
    the brk heap, stacks and the vDSO, and the .bss of the program and its
    libraries, which the loader maps anonymously right after the file's
    last segment. The L2 arena map is the runtime's but unaccounted (one of
    the three exceptions); it is kept in, and its few touched pages are
    what the "few pages" allowance is for.
    """
    maps = mappings(pid)
    mine, other = [], []
    prev = None
    for m in maps:
        anon = m["inode"] == 0 and (m["path"] == "" or m["path"].startswith("[anon"))
        if not anon or m["path"] in _SPECIAL:
            pass
        elif prev is not None and prev["inode"] != 0 and prev["end"] == m["start"]:
            other.append(m)  # a file's .bss
        else:
            mine.append(m)
        prev = m
    return mine, other


def status(pid, key):
    """A /proc/<pid>/status size field (VmRSS, VmHWM, ...) in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def mib(b):
    return b / MiB
