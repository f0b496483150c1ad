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
LDLIBS   := -lffi -ldl -lm
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
