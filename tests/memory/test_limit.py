"""The memory limit holds.

1. 100 MiB live and 1 GiB of short-lived garbage under GALEMEMLIMIT=150MiB,
   GALEGC=off: peak RSS (VmHWM, the whole process) within 5 % of the limit
   (Go 1.19: -2 % to +2.5 %).
2. The same live heap under a 50 MiB limit, below it: the script finishes,
   and the collector takes about half the time of the garbage phase (the
   GC CPU limiter), not all of it.
"""
import memtest
from memtest import MiB, check


def main():
    memtest.skip_if_sanitized()
    out, _ = memtest.run("limit.gale", ["100", "1000"],
                         env={"GALEMEMLIMIT": "150MiB", "GALEGC": "off"})
    print(out)
    r = memtest.results(out)
    peak = float(r["peak_rss_mib"])
    check(abs(peak - 150) <= 150 * 0.05,
          "peak RSS %.1f MiB within 5 %% of the 150 MiB limit (%+.1f %%)" % (peak, (peak - 150) / 1.5))
    check(int(r["numgc"]) >= 10, "the limit drove the collections (%s cycles)" % r["numgc"])

    out, _ = memtest.run("limit.gale", ["100", "400"],
                         env={"GALEMEMLIMIT": "50MiB", "GALEGC": "off"})
    print(out)
    r = memtest.results(out)
    frac = float(r["phase_gc_fraction"])
    check(0.25 <= frac <= 0.70,
          "limit below the live heap: GC takes %.0f %% of the time (near 50 %%)" % (frac * 100))
    check(int(r["phase_numgc"]) >= 5, "and keeps collecting (%s cycles)" % r["phase_numgc"])
    memtest.finish()


if __name__ == "__main__":
    main()
