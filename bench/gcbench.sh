#!/bin/sh
# Build and run the collector measurements against libgale.a.
#   sh bench/gcbench.sh [build-dir]
set -e
B=${1:-build}
mkdir -p "$B/bench"
for prog in limit spike pause limiter; do
	cc -std=gnu11 -O2 -Wall -Wextra -I. -Iinclude -I"$B/gen" -D_GNU_SOURCE \
	    -o "$B/bench/gcbench_$prog" "bench/gcbench_$prog.c" "$B/libgale.a" -lffi -ldl -lm
done
for prog in pause spike limit limiter; do
	"$B/bench/gcbench_$prog"
done
