# Gale — build, test and install.
#
#   make            build/libgale.a, build/libgale.so, build/gale
#   make run        build and run examples/hello.gale
#   make test       install missing Debian packages, build, run every test
#   make check-asan the whole test suite under ASan + UBSan (in build-asan/)
#   make bench      Gale beside Lua 5.4 and Python 3
#   make install    PREFIX=/usr/local DESTDIR=

B        ?= build
CC       ?= cc
OPT      ?= -O2
SAN      ?=
CFLAGS   ?= $(OPT) -g
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  := 0.1.0
SOVER    := 0

WARN     := -Wall -Wextra
LINKFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN) -fvisibility=hidden
BASEFLAGS = $(LINKFLAGS) -MMD -MP
override CPPFLAGS += -I. -Iinclude -I$(B)/gen -D_GNU_SOURCE -DGALE_VERSION='"$(VERSION)"'
LDLIBS   := -lffi -ldl -lm -lpthread
CLILIBS  := -lreadline

LIB_SRC  := $(sort $(wildcard mem/*.c gc/*.c vm/*.c stdlib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
PIC_OBJ  := $(LIB_SRC:%.c=$(B)/pic/%.o)
CLI_SRC  := $(sort $(wildcard cli/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)

# Generated headers (the size-class tables come from a program, never typed).
GEN      := $(if $(wildcard tools/mksizeclasses.c),$(B)/gen/sizeclasses.h)

# Criterion unit tests: one binary per folder under tests/unit.
UNIT_DIRS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard tests/unit/*/*.c)))))
UNIT_BINS := $(UNIT_DIRS:%=$(B)/unit/test_%)

# Optional helper library for the FFI tests.
TESTLIB  := $(if $(wildcard tests/ffi/libgaletest.c),$(B)/libgaletest.so)

PYTHON   ?= python3

.PHONY: all run test test-run deps unit conformance scripts check-asan check-switch \
        bench install uninstall clean

all: $(B)/libgale.a $(B)/libgale.so $(B)/gale

$(B)/gen/sizeclasses.h: tools/mksizeclasses.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O1 -o $(B)/gen/mksizeclasses $< -lm
	$(B)/gen/mksizeclasses > $@.tmp && mv $@.tmp $@

$(B)/obj/%.o: %.c | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BASEFLAGS) -c -o $@ $<

$(B)/pic/%.o: %.c | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BASEFLAGS) -fPIC -c -o $@ $<

# The run loop dispatches through computed gotos, where GCC's global common
# subexpression elimination costs more than it saves (the GCC manual says
# as much under -fgcse); measured: 5 to 15 % on the call and float benchmarks.
GCSE_OFF := $(if $(shell $(CC) -v 2>&1 | grep -q '^gcc version' && echo y),-fno-gcse)
$(B)/obj/vm/vm.o $(B)/pic/vm/vm.o: BASEFLAGS += $(GCSE_OFF)

$(B)/libgale.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libgale.so: $(PIC_OBJ)
	$(CC) -shared $(SAN) -Wl,-soname,libgale.so.$(SOVER) -o $@ $^ $(LDLIBS)

$(B)/gale: $(CLI_OBJ) $(B)/libgale.a
	$(CC) $(SAN) -rdynamic -o $@ $(CLI_OBJ) $(B)/libgale.a $(CLILIBS) $(LDLIBS)

$(B)/unit/test_%: $(wildcard tests/unit/$*/*.c) $(B)/libgale.a | $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(LINKFLAGS) -o $@ $(wildcard tests/unit/$*/*.c) \
	    $(B)/libgale.a -lcriterion $(LDLIBS)

$(B)/libgaletest.so: tests/ffi/libgaletest.c
	$(CC) -shared -fPIC $(WARN) -O1 -o $@ $<

.SECONDEXPANSION:
$(UNIT_BINS): $(B)/unit/test_%: $$(wildcard tests/unit/%/*.c)

run: all
	$(B)/gale examples/hello.gale

deps:
	@sh tools/ensure-deps.sh

test: deps
	$(MAKE) all
	$(MAKE) test-run

# Everything that runs, assuming the build is done.
test-run: unit conformance scripts

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t --jobs 2; done

conformance: $(B)/gale $(TESTLIB)
	@if [ -d tests/conformance ]; then \
	  echo "== conformance"; \
	  $(PYTHON) tests/conformance/run.py --gale $(B)/gale --timeout 60 tests/conformance/tests && \
	  echo "== conformance, tests/lang and tests/stdlib under GALEDEBUG=gcstress=1" && \
	  GALEDEBUG=gcstress=1 $(PYTHON) tests/conformance/run.py --gale $(B)/gale --timeout 120 \
	      tests/conformance/tests tests/lang tests/stdlib; \
	fi

scripts: $(B)/gale $(TESTLIB)
	@if [ -f tests/run_scripts.sh ]; then sh tests/run_scripts.sh $(B); fi

check-asan: deps
	$(MAKE) B=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(MAKE) B=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test-run

# The portable switch dispatch instead of computed goto.
check-switch: deps
	$(MAKE) B=build-switch CPPFLAGS="-DGALE_SWITCH_DISPATCH" all
	$(MAKE) B=build-switch CPPFLAGS="-DGALE_SWITCH_DISPATCH" test-run

bench: all $(if $(wildcard bench/allocbench.c),$(B)/allocbench)
	@sh tools/ensure-bench-deps.sh
	$(PYTHON) bench/run.py --build $(B) $(BENCHFLAGS)

# mallocgc beside glibc malloc (bench/allocbench.c).
$(B)/allocbench: bench/allocbench.c $(B)/libgale.a
	$(CC) $(CPPFLAGS) $(LINKFLAGS) -o $@ $< $(B)/libgale.a $(LDLIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/gale $(DESTDIR)$(PREFIX)/bin/gale
	install -m 644 $(B)/libgale.a $(DESTDIR)$(PREFIX)/lib/libgale.a
	install -m 755 $(B)/libgale.so $(DESTDIR)$(PREFIX)/lib/libgale.so.$(VERSION)
	ln -sf libgale.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libgale.so.$(SOVER)
	ln -sf libgale.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libgale.so
	install -m 644 include/gale.h $(DESTDIR)$(PREFIX)/include/gale.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' gale.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gale.pc
	if [ -f docs/gale.1 ]; then install -m 644 docs/gale.1 $(DESTDIR)$(PREFIX)/share/man/man1/gale.1; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/gale $(DESTDIR)$(PREFIX)/lib/libgale.* \
	    $(DESTDIR)$(PREFIX)/include/gale.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/gale.pc \
	    $(DESTDIR)$(PREFIX)/share/man/man1/gale.1

clean:
	rm -rf build build-asan build-switch

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- reliability
#   make fuzz            each libFuzzer target for FUZZTIME seconds (clang)
#   make fuzz-ci         each target for 60 s, after replaying fuzz/regressions
#   make fuzz-regress    replay every saved crash input (no fuzzing)
#   make check-valgrind  a representative subset under valgrind
# Targets live in fuzz/fuzz_<name>.c; build-fuzz/ holds a clang build of the
# library with ASan, UBSan and coverage for libFuzzer. Seeds: every .gale
# file of tests/ and examples/ (Gale targets) and fuzz/seeds/<name>/.
FUZZTIME    ?= 60
FUZZ_CC     ?= clang
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_NAMES  := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS   := $(FUZZ_NAMES:%=build-fuzz/fuzz_%)
FUZZ_FLAGS  ?= -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1

.PHONY: fuzz fuzz-ci fuzz-build fuzz-regress fuzz-seeds check-valgrind

ifneq ($(B),build-fuzz)
build-fuzz/libgale.a: FORCE
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzzing needs clang (apt-get install clang)"; exit 1; }
	$(MAKE) B=build-fuzz CC=$(FUZZ_CC) OPT=-O1 SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" build-fuzz/libgale.a
endif

build-fuzz/fuzz_%: fuzz/fuzz_%.c build-fuzz/libgale.a
	$(FUZZ_CC) $(CPPFLAGS) -Ibuild-fuzz/gen -std=gnu11 $(WARN) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) \
	    -o $@ $< build-fuzz/libgale.a $(LDLIBS) -lpthread

fuzz-build: $(FUZZ_BINS)

# Gale sources from the test suites become the seeds of the Gale targets.
fuzz-seeds:
	@mkdir -p build-fuzz/seeds/gale
	@find tests examples -name '*.gale' -size -16k | while read f; do \
	    cp "$$f" "build-fuzz/seeds/gale/$$(echo "$$f" | tr / _)"; done

fuzz-regress: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  if [ -d fuzz/regressions/$$n ] && [ -n "$$(ls fuzz/regressions/$$n)" ]; then \
	    echo "== replay fuzz/regressions/$$n"; \
	    build-fuzz/fuzz_$$n $(FUZZ_FLAGS) fuzz/regressions/$$n/* </dev/null >build-fuzz/replay_$$n.log 2>&1 \
	      || { tail -40 build-fuzz/replay_$$n.log; exit 1; }; \
	  fi; done

# New interesting inputs go to build-fuzz/corpus/<name> (the first corpus
# directory); a crash is written as build-fuzz/crash-* and fails the target.
fuzz: $(FUZZ_BINS) fuzz-seeds
	@set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p build-fuzz/corpus/$$n; \
	  seeds=fuzz/seeds/$$n; [ -d $$seeds ] || seeds=build-fuzz/seeds/gale; \
	  echo "== fuzz_$$n for $(FUZZTIME) s"; \
	  build-fuzz/fuzz_$$n $(FUZZ_FLAGS) -max_total_time=$(FUZZTIME) -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus/$$n $$seeds </dev/null >build-fuzz/fuzz_$$n.log 2>&1 \
	    || { tail -60 build-fuzz/fuzz_$$n.log; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|Done)' build-fuzz/fuzz_$$n.log | tail -1; \
	done

fuzz-ci: fuzz-regress
	$(MAKE) fuzz FUZZTIME=60

# Valgrind over a normal -O1 build (no sanitizers): an invalid read or write,
# a use of uninitialised memory or a leak at VM free fails the run (exit 99;
# the scripts themselves may end with 65 or 70).
# examples/binary_trees.gale runs deep enough for the scavenger to release
# and the heap to reuse pages (memcheck learns of MADV_DONTNEED's zeros
# through a client request in mem/mem_linux.c).
VALGRIND_SCRIPTS ?= $(sort $(wildcard tests/lang/*/*.gale tests/conformance/tests/errors/*.gale)) \
                    $(wildcard examples/closures.gale examples/classes.gale examples/binary_trees.gale)
check-valgrind:
	@command -v valgrind >/dev/null || { echo "check-valgrind needs valgrind (apt-get install valgrind)"; exit 1; }
	$(MAKE) B=build-valgrind OPT=-O1 all
	@fail=0; for f in $(VALGRIND_SCRIPTS); do \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    build-valgrind/gale "$$f" </dev/null >/dev/null 2>build-valgrind/vg.log; rc=$$?; \
	  if [ $$rc = 99 ] || [ $$rc -ge 128 ]; then echo "FAIL $$f (status $$rc)"; cat build-valgrind/vg.log; fail=1; fi; \
	done; \
	GALEDEBUG=gcstress=1 valgrind -q --error-exitcode=99 --leak-check=full build-valgrind/gale \
	  examples/closures.gale >/dev/null 2>build-valgrind/vg.log || { [ $$? = 99 ] && cat build-valgrind/vg.log && fail=1; }; \
	echo "valgrind: $(words $(VALGRIND_SCRIPTS)) scripts + 1 under gcstress"; exit $$fail

FORCE:
