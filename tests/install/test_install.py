#!/usr/bin/env python3
"""Installs Gale into a scratch DESTDIR and builds the embedding example
against the installed files with pkg-config, as a user of the library would.

Checks, in order:
  make install PREFIX=/usr/local DESTDIR=<tmp> puts in place bin/gale,
    lib/libgale.a, lib/libgale.so.VERSION with the libgale.so.0 and libgale.so
    links, include/gale.h, lib/pkgconfig/gale.pc and share/man/man1/gale.1;
  the installed libgale.so has the soname libgale.so.0 and exports exactly the
    GALE_API functions of include/gale.h (nm -D);
  pkg-config finds gale.pc (PKG_CONFIG_PATH into the DESTDIR, with
    PKG_CONFIG_SYSROOT_DIR so -I and -L point into it) and reports the version;
  examples/embed/Makefile builds host (shared) and host-static from the
    installed header and libraries only, and both print examples/embed/host.out;
  the installed gale program runs a script;
  make uninstall removes every installed file.

The install does not rebuild (`make -o all`): it uses what BUILD holds, so a
sanitizer build is installed as built (the example then links with the same
sanitizers).

Usage: BUILD=build python3 tests/install/test_install.py
Ends with the line "N passed, M failed"; exits non-zero on failure.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from outputs import compare, sanitizer_flags  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
PREFIX = "/usr/local"
TIMEOUT = 300


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, text=True, **kw)


def version():
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        return re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M).group(1)


class Install:
    def __init__(self):
        self.dest = tempfile.mkdtemp(prefix="gale-install-")
        self.root = self.dest + PREFIX
        self.env = dict(os.environ)
        self.env["PKG_CONFIG_PATH"] = os.path.join(self.root, "lib", "pkgconfig")
        self.env["PKG_CONFIG_SYSROOT_DIR"] = self.dest
        self.env.pop("PKG_CONFIG_LIBDIR", None)
        self.env = {k: v for k, v in self.env.items() if not k.startswith("GALE")}

    def make(self, target):
        return run(["make", "--no-print-directory", "-o", "all", "B=" + BUILD,
                    "PREFIX=" + PREFIX, "DESTDIR=" + self.dest, target], cwd=ROOT)

    def path(self, rel):
        return os.path.join(self.root, rel)


def installed_files(ver):
    return ["bin/gale", "lib/libgale.a", "lib/libgale.so." + ver, "lib/libgale.so.0",
            "lib/libgale.so", "include/gale.h", "lib/pkgconfig/gale.pc",
            "share/man/man1/gale.1"]


def check_install(inst):
    p = inst.make("install")
    if p.returncode != 0:
        return "make install failed:\n" + p.stdout + p.stderr
    ver = version()
    missing = [f for f in installed_files(ver) if not os.path.exists(inst.path(f))]
    if missing:
        return "not installed: " + ", ".join(missing)
    if os.readlink(inst.path("lib/libgale.so.0")) != "libgale.so." + ver:
        return "lib/libgale.so.0 does not point at libgale.so." + ver
    if os.readlink(inst.path("lib/libgale.so")) != "libgale.so.0":
        return "lib/libgale.so does not point at libgale.so.0"
    if not os.access(inst.path("bin/gale"), os.X_OK):
        return "bin/gale is not executable"
    with open(inst.path("include/gale.h")) as a, open(os.path.join(ROOT, "include", "gale.h")) as b:
        if a.read() != b.read():
            return "the installed gale.h differs from include/gale.h"
    return None


def check_exports(inst):
    so = inst.path("lib/libgale.so." + version())
    p = run(["readelf", "-d", so])
    if "Library soname: [libgale.so.0]" not in p.stdout:
        return "soname is not libgale.so.0:\n" + p.stdout
    p = run(["nm", "-D", "--defined-only", so])
    if p.returncode != 0:
        return "nm failed: " + p.stderr
    exported = set(line.split()[-1] for line in p.stdout.splitlines() if line.strip())
    with open(os.path.join(ROOT, "include", "gale.h")) as f:
        header = f.read()
    declared = set(re.findall(r"\b(gale_[a-z0-9_]+)\s*\(", header))
    extra = sorted(exported - declared)
    absent = sorted(declared - exported)
    if extra:
        return "exported but not public: " + ", ".join(extra[:20])
    if absent:
        return "declared in gale.h but not exported: " + ", ".join(absent)
    return None


def check_pkgconfig(inst):
    p = run(["pkg-config", "--modversion", "gale"], env=inst.env)
    if p.returncode != 0 or p.stdout.strip() != version():
        return "pkg-config --modversion gale: %r %r" % (p.stdout, p.stderr)
    p = run(["pkg-config", "--cflags", "--libs", "gale"], env=inst.env)
    flags = p.stdout.split()
    want = ["-I" + inst.path("include"), "-L" + inst.path("lib"), "-lgale"]
    if p.returncode != 0 or any(w not in flags for w in want):
        return "pkg-config --cflags --libs gale gave %r, expected %r" % (p.stdout.strip(), want)
    p = run(["pkg-config", "--static", "--libs", "gale"], env=inst.env)
    if "-lffi" not in p.stdout.split():
        return "pkg-config --static --libs lacks the private libraries: " + p.stdout
    return None


def check_example(inst, target):
    bindir = tempfile.mkdtemp(prefix="gale-host-")
    try:
        cflags = " ".join(["-O1", "-Wall", "-Wextra", "-Werror"] +
                          sanitizer_flags(inst.path("lib/libgale.a")))
        p = run(["make", "--no-print-directory", "-C", os.path.join(ROOT, "examples", "embed"),
                 "BIN=" + bindir, "CFLAGS=" + cflags, os.path.join(bindir, target)], env=inst.env)
        if p.returncode != 0:
            return "building %s failed:\n%s%s" % (target, p.stdout, p.stderr)
        env = dict(inst.env)
        env["LD_LIBRARY_PATH"] = inst.path("lib")
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        exe = os.path.join(bindir, target)
        if target == "host":
            # the shared build must load the installed library, not another one
            ldd = run(["ldd", exe], env=env).stdout
            if inst.path("lib/libgale.so.0") not in ldd:
                return "host does not load the installed libgale.so.0:\n" + ldd
        p = run([exe, "script.gale"], cwd=os.path.join(ROOT, "examples", "embed"), env=env)
        if p.returncode != 0:
            return "%s exited %d:\n%s" % (target, p.returncode, p.stderr)
        with open(os.path.join(ROOT, "examples", "embed", "host.out")) as f:
            want = f.read().splitlines()
        return compare(want, p.stdout.splitlines())
    finally:
        shutil.rmtree(bindir, ignore_errors=True)


def check_program(inst):
    env = dict(inst.env)
    env["LD_LIBRARY_PATH"] = inst.path("lib")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    p = run([inst.path("bin/gale"), "-e", "print(6 * 7)"], env=env)
    if p.returncode != 0 or p.stdout != "42\n":
        return "installed gale: status %d, output %r %r" % (p.returncode, p.stdout, p.stderr)
    return None


def check_uninstall(inst):
    p = inst.make("uninstall")
    if p.returncode != 0:
        return "make uninstall failed:\n" + p.stdout + p.stderr
    left = [f for f in installed_files(version()) if os.path.lexists(inst.path(f))]
    return ("left behind: " + ", ".join(left)) if left else None


def main():
    inst = Install()
    checks = [
        ("make install", check_install),
        ("exports and soname", check_exports),
        ("pkg-config", check_pkgconfig),
        ("example host (shared)", lambda i: check_example(i, "host")),
        ("example host (static)", lambda i: check_example(i, "host-static")),
        ("installed gale program", check_program),
        ("make uninstall", check_uninstall),
    ]
    passed = failed = 0
    try:
        for name, check in checks:
            try:
                problem = check(inst)
            except (OSError, subprocess.TimeoutExpired) as e:
                problem = "%s: %s" % (type(e).__name__, e)
            if problem:
                failed += 1
                print("FAIL %s: %s" % (name, problem))
                if name == "make install":
                    break
            else:
                passed += 1
                print("PASS %s" % name)
    finally:
        shutil.rmtree(inst.dest, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
