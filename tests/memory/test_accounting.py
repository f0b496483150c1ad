"""Accounting against the kernel: mappedReady is the truth.

bench/memory/accounting.gale grows to about 200 MiB and shrinks, stopping at
each point with a "POINT name MappedReady HeapInuse HeapReleased Sys" line
until it reads a line from stdin. At each stop this test reads
/proc/<pid>/smaps and sums the resident bytes of the runtime's own mappings
(memtest.runtime_mappings). Two properties must hold:

  resident <= mappedReady + a few pages   (nothing resident is unaccounted)
  mappedReady <= 1.10 * resident          (once the heap has been touched)

And, to show the mappings were identified right, the heap's own estimate of
its resident pages (HeapSys - HeapReleased + StackInuse) matches the Rss of
the arena mappings (from the hint address 0x00c000000000) within 5 %.

(Go 1.19 on this machine: mappedReady ~7.7 MiB above arena+metadata Rss,
+3.7 % at a 200 MiB heap, because its heap bitmap counts as Ready before it
is touched; docs/runtime.md.)
"""
import subprocess

import memtest
from memtest import MiB, PAGE, check, mib

# The L2 arena map's touched page(s) and the odd page of alignment slack.
FEW_PAGES = 8 * PAGE
# From this much heap on, mappedReady must be within 10 % of resident.
TOUCHED = 16 * MiB
# The first arena hint (mem/malloc.c): the heap grows up from here, and
# the next hint is 1 TiB higher.
ARENA_LO, ARENA_HI = 0x00c000000000, 0x00c000000000 + (1 << 40)


def main():
    memtest.skip_if_sanitized()
    p = subprocess.Popen([memtest.GALE, memtest.script("accounting.gale")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=memtest.clean_env())
    npoints = 0
    print("%-16s %10s %10s %10s %8s %10s %10s %12s" % (
        "point", "mappedReady", "resident", "diff", "ratio", "heap est.", "arena Rss", "other anon"))
    try:
        for line in p.stdout:
            if not line.startswith("POINT "):
                continue
            f = line.split()
            name, ready, inuse, released = f[1], int(f[2]), int(f[3]), int(f[4])
            heapsys, stacks = int(f[6]), int(f[7])
            mine, other = memtest.runtime_mappings(p.pid)
            resident = sum(m["rss"] for m in mine)
            arena = sum(m["rss"] for m in mine if ARENA_LO <= m["start"] < ARENA_HI)
            estimate = heapsys - released + stacks
            other_rss = sum(m["rss"] for m in other)
            ratio = ready / resident if resident else float("inf")
            print("%-16s %9.2fM %9.2fM %+9.2fM %8.4f %9.2fM %9.2fM %11.2fM" % (
                name, mib(ready), mib(resident), mib(ready - resident), ratio, mib(estimate),
                mib(arena), mib(other_rss)), flush=True)
            check(resident <= ready + FEW_PAGES,
                  "%s: resident %.2f MiB <= mappedReady %.2f MiB + %d pages" % (
                      name, mib(resident), mib(ready), FEW_PAGES // PAGE))
            if inuse >= TOUCHED:
                check(ready <= resident * 1.10,
                      "%s: mappedReady %.2f MiB within 10 %% above resident %.2f MiB" % (
                          name, mib(ready), mib(resident)))
                check(abs(estimate - arena) <= 0.05 * arena,
                      "%s: heap estimate %.2f MiB within 5 %% of arena Rss %.2f MiB" % (
                          name, mib(estimate), mib(arena)))
            npoints += 1
            p.stdin.write("\n")
            p.stdin.flush()
    finally:
        p.stdin.close()
        rc = p.wait(timeout=60)
    check(rc == 0, "accounting.gale exits with status 0 (got %d)" % rc)
    check(npoints == 9, "all 9 points were measured (got %d)" % npoints)
    memtest.finish()


if __name__ == "__main__":
    main()
