#!/usr/bin/env python3
"""Bad input: every row of the table below feeds the gale program something
hostile (generated in a temporary directory at test time) and checks that it
ends with a clear error, never a crash, a hang or unbounded memory:

  - the exit status is the expected one (65 compile error, 70 uncaught
    runtime error, 0 when the script catches the error and prints it);
  - the first line of standard error carries the expected message;
  - the process was not killed by a signal and finished within its timeout;
  - its peak RSS stayed under the row's bound (plain builds only: under
    AddressSanitizer RSS means nothing).

Usage: GALE=build/gale python3 tests/bad_input/test_bad_input.py [names...]
Ends with the line "N passed, M failed"; exits non-zero on failure.
Under GALEDEBUG=gcstress the rows marked heavy are skipped (a collection at
every allocation of a 100 MB input, or of 100,000 nested lists, would take
hours).
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GALE = os.path.abspath(os.environ.get("GALE") or os.path.join(ROOT, "build", "gale"))
MiB = 1 << 20


def sanitized():
    with open(GALE, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__ubsan" in data


SANITIZED = sanitized()
STRESS = "gcstress" in os.environ.get("GALEDEBUG", "")


def run(path, args=(), timeout=120, cwd=None):
    """Run gale on path; returns (status, stdout, stderr, peak RSS bytes, seconds).
    status is negative for a signal, None for a timeout."""
    t0 = time.monotonic()
    with open(os.devnull, "rb") as devnull, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([GALE] + list(args) + [path], stdin=devnull, stdout=out,
                             stderr=err, cwd=cwd)
        status = None
        rss = 0
        while True:
            # the high-water mark of the program's own memory (ru_maxrss
            # would also count this process's memory from before the exec)
            try:
                with open("/proc/%d/status" % p.pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            rss = max(rss, int(line.split()[1]) * 1024)
            except OSError:
                pass
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                status = os.waitstatus_to_exitcode(st)
                p.returncode = status
                break
            if time.monotonic() - t0 > timeout:
                p.kill()
                p.wait()
                break
            time.sleep(0.01)
        out.seek(0)
        err.seek(0)
        return (status, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), rss, time.monotonic() - t0)


# ---------------------------------------------------------------- generators
# Each returns the bytes of the main script; extra files go into tmp.

def nested_parens(tmp):
    return b"print(" + b"(" * 100000 + b"1" + b")" * 100000 + b")\n"


def nested_lists(tmp):
    return b"let x = " + b"[" * 100000 + b"]" * 100000 + b"\n"


def nested_maps(tmp):
    return b"let x = " + b'{"a": ' * 100000 + b"1" + b"}" * 100000 + b"\n"


def nested_blocks(tmp):
    return b"if true {\n" * 100000 + b"print(1)\n" + b"}\n" * 100000


def nested_unary(tmp):
    return b"print(" + b"-" * 100000 + b"1)\n"


def nested_not(tmp):
    return b"print(" + b"not " * 100000 + b"true)\n"


def nested_binary(tmp):
    # 100,000 right-nested power operators: right associativity recurses
    return b"print(" + b"1 ** " * 100000 + b"1)\n"


def nested_fns(tmp):
    return b"let f = " + b"fn() { return " * 100000 + b"1" + b" }" * 100000 + b"\n"


def nested_calls(tmp):
    return b"let f = fn(x) { return x }\nprint(" + b"f(" * 100000 + b"1" + b")" * 100000 + b")\n"


def nested_index(tmp):
    return b"let a = [0]\nprint(" + b"a[" * 100000 + b"0" + b"]" * 100000 + b")\n"


def big_string(tmp):
    return b'let s = "' + b"a" * (100 * MiB) + b'"\nprint(len(s))\n'


def big_raw_string(tmp):
    return b"let s = `" + b"ab\n" * (33 * MiB) + b"`\nprint(len(s))\n"


def nul_bytes(tmp):
    return b"print(1)\x00print(2)\n"


def nul_in_string(tmp):
    return b'print(len("a\x00b"))\n'


def nul_only(tmp):
    return b"\x00" * 1000


def bad_utf8_code(tmp):
    return b"let \xff\xfe = 1\n"


def bad_utf8_string(tmp):
    return b'print(len("\xc3\x28\xa0\xa1\xf0\x28\x8c\x28"))\n'


def bad_utf8_comment(tmp):
    return b"# \xff\xff\xff\nprint(1)\n"


def int_overflow(tmp):
    return b"print(9223372036854775808)\n"


def int_overflow_long(tmp):
    return b"print(" + b"9" * 10000 + b")\n"


def int_overflow_hex(tmp):
    return b"print(0x1" + b"0" * 16 + b")\n"


def int_overflow_bin(tmp):
    return b"print(0b1" + b"0" * 64 + b")\n"


def int_min_ok(tmp):
    return b"print(-9223372036854775807 - 1)\n"


def float_overflow(tmp):
    return b"print(1e999999)\n"


def unterminated(text):
    return lambda tmp: text


def recursion(tmp):
    return b"fn f(n) { return f(n + 1) + 1 }\nf(0)\n"


def recursion_caught(tmp):
    return (b"fn f(n) { return f(n + 1) + 1 }\n"
            b"try { f(0) } catch e { print(e.message) }\n"
            b"print(\"still running\")\n")


def recursion_method(tmp):
    return (b"class A { fn m(n) { return self.m(n + 1) } }\n"
            b"try { A().m(0) } catch e { print(e.message) }\n")


def recursion_native(tmp):
    # re-entry through a native (sort's comparator) nests the C stack
    return (b"fn cmp(a, b) { [2, 1].sort(cmp)\n return a < b }\n"
            b"try { [2, 1].sort(cmp) } catch e { print(e.message) }\n")


def recursion_tostring(tmp):
    return (b"class A { fn toString() { return str(self) } }\n"
            b"try { print(A()) } catch e { print(e.message) }\n")


def big_list(tmp):
    return b"let l = []\nfor i in range(100000000) { l.push(i) }\nprint(len(l))\n"


def big_list_caught(tmp):
    return (b"let l = []\n"
            b"try { for i in range(100000000) { l.push(i) } } catch e { print(e.message) }\n"
            b"l = nil\nruntime.gc()\nprint(\"recovered\")\n")


def big_string_concat(tmp):
    return b'let s = "x"\nwhile true { s = s + s }\n'


def big_repeat(tmp):
    return b'let s = "ab".repeat(500000000)\n'


def big_map(tmp):
    return b"let m = {}\nfor i in range(100000000) { m[i] = i }\n"


def module_cycle(tmp):
    n = 10000
    for i in range(n):
        with open(os.path.join(tmp, "m%d.gale" % i), "w") as f:
            f.write('import "m%d"\nlet v = %d\n' % ((i + 1) % n, i))
    return b'import "m0"\nprint("done")\n'


def module_self(tmp):
    with open(os.path.join(tmp, "selfimp.gale"), "w") as f:
        f.write('import "selfimp"\nlet v = 1\n')
    return b'import "selfimp"\nprint(selfimp.v)\n'


def interp_nested(tmp):
    return b'print("' + b'${"' * 1000 + b"x" + b'"}' * 1000 + b'")\n'


def interp_nested_ok(tmp):
    return b'print("' + b'${"' * 20 + b"x" + b'"}' * 20 + b'")\n'


def interp_at_eol(tmp):
    return b'let p = "a${1}"\nprint(p)\nlet q = "${p}b${p}"\nprint(q)\n'


def long_line(tmp):
    return b"let x = 1" + b" + 1" * 1000000 + b"\nprint(x)\n"


def many_constants(tmp):
    return b"let x = [" + b", ".join(b"%d.5" % i for i in range(200000)) + b"]\nprint(len(x))\n"


def many_locals(tmp):
    return b"fn f() {\n" + b"".join(b"let v%d = %d\n" % (i, i) for i in range(300)) + b"}\n"


def many_args(tmp):
    return b"fn f(...a) { return len(a) }\nprint(f(" + b", ".join(b"1" for _ in range(1000)) + b"))\n"


def many_params(tmp):
    return b"fn f(" + b", ".join(b"p%d" % i for i in range(1000)) + b") {}\n"


def deep_data_print(tmp):
    return (b"let l = []\nfor i in range(100000) { l = [l] }\n"
            b"print(len(str(l)) > 0)\n")


def deep_data_equal(tmp):
    return (b"let a = []\nlet b = []\nfor i in range(100000) { a = [a]\n b = [b] }\n"
            b"print(a == b)\n")


def self_containing(tmp):
    return b"let l = [1]\nl.push(l)\nlet m = {}\nm[\"m\"] = m\nprint(l)\nprint(m)\n"


def many_errors(tmp):
    return b"let = \n" * 10000


def random_bytes(tmp):
    import random
    r = random.Random(7)
    return bytes(r.randrange(256) for _ in range(1 << 16))


def throw_non_error(tmp):
    return b"throw [1, 2]\n"


def huge_range_list(tmp):
    return b"let l = list(range(1000000000000))\n"


# ---------------------------------------------------------------- the table
# name, generator, extra args, expected exit, expected text (first stderr line
# ends with it for 65/70; a stdout line equals it for 0), RSS bound, heavy

H64 = ["--max-heap", "64MiB"]
TABLE = [
    ("nested parentheses 100k", nested_parens, [], 65, "too deeply nested", 256, False),
    ("nested lists 100k", nested_lists, [], 65, "too deeply nested", 256, False),
    ("nested maps 100k", nested_maps, [], 65, "too deeply nested", 256, False),
    ("nested blocks 100k", nested_blocks, [], 65, "too deeply nested", 256, False),
    ("nested unary minus 100k", nested_unary, [], 65, "too deeply nested", 256, False),
    ("nested not 100k", nested_not, [], 65, "too deeply nested", 256, False),
    ("nested power 100k", nested_binary, [], 65, "too deeply nested", 256, False),
    ("nested functions 100k", nested_fns, [], 65, "too deeply nested", 256, False),
    ("nested calls 100k", nested_calls, [], 65, "too deeply nested", 256, False),
    ("nested index 100k", nested_index, [], 65, "too deeply nested", 256, False),
    ("100 MB string literal", big_string, [], 0, "104857600", 1024, True),
    ("100 MB raw string literal", big_raw_string, [], 0, "103809024", 1024, True),
    ("100 MB string literal, 64 MiB heap", big_string, H64, 70, "out of memory", 512, True),
    ("NUL byte in code", nul_bytes, [], 65, "unexpected character", 64, False),
    ("NUL byte in a string", nul_in_string, [], 0, "3", 64, False),
    ("only NUL bytes", nul_only, [], 65, "unexpected character", 64, False),
    ("invalid UTF-8 in code", bad_utf8_code, [], 65, "unexpected character", 64, False),
    ("invalid UTF-8 in a string", bad_utf8_string, [], 0, "8", 64, False),
    ("invalid UTF-8 in a comment", bad_utf8_comment, [], 0, "1", 64, False),
    ("int literal 2^63", int_overflow, [], 65, "integer literal too large", 64, False),
    ("int literal 10,000 digits", int_overflow_long, [], 65, "integer literal too large", 64, False),
    ("hex literal 2^64", int_overflow_hex, [], 65, "too large", 64, False),
    ("binary literal 2^64", int_overflow_bin, [], 65, "too large", 64, False),
    ("int minimum by arithmetic", int_min_ok, [], 0, "-9223372036854775808", 64, False),
    ("float literal 1e999999", float_overflow, [], 0, "inf", 64, False),
    ("unterminated string", unterminated(b'print("abc\n'), [], 65, "unterminated string", 64, False),
    ("unterminated string at end", unterminated(b'print("abc'), [], 65, "unterminated string", 64, False),
    ("unterminated raw string", unterminated(b"print(`abc\n\n"), [], 65, "unterminated raw string", 64, False),
    ("unterminated interpolation", unterminated(b'print("a${1 + '), [], 65, "", 64, False),
    ("unterminated escape", unterminated(b'print("\\'), [], 65, "", 64, False),
    ("unterminated \\x escape", unterminated(b'print("\\x4'), [], 65, "", 64, False),
    ("unterminated \\u escape", unterminated(b'print("\\u{41'), [], 65, "", 64, False),
    ("unterminated parenthesis", unterminated(b"print((1 + 2)\n"), [], 65, "", 64, False),
    ("unterminated list", unterminated(b"let x = [1, 2\n"), [], 65, "", 64, False),
    ("unterminated map", unterminated(b'let x = {"a": 1\n'), [], 65, "", 64, False),
    ("unterminated block", unterminated(b"if true {\nprint(1)\n"), [], 65, "", 64, False),
    ("unterminated function", unterminated(b"fn f(a, b\n"), [], 65, "", 64, False),
    ("unterminated class", unterminated(b"class A {\nfn m() {\n"), [], 65, "", 64, False),
    ("unterminated try", unterminated(b"try {\n"), [], 65, "", 64, False),
    ("unterminated catch", unterminated(b"try { } catch e {"), [], 65, "", 64, False),
    ("dangling operator", unterminated(b"let x = 1 +"), [], 65, "", 64, False),
    ("dangling import", unterminated(b"import"), [], 65, "", 64, False),
    ("a million calls deep", recursion, [], 70, "stack overflow", 1024, False),
    ("a million calls deep, caught", recursion_caught, [], 0, "stack overflow", 1024, False),
    ("method recursion, caught", recursion_method, [], 0, "stack overflow", 1024, False),
    ("recursion through a native", recursion_native, [], 0, "stack overflow", 1024, False),
    ("recursion through toString", recursion_tostring, [], 0, "stack overflow", 1024, False),
    ("100M-element list, 64 MiB heap", big_list, H64, 70, "out of memory", 256, False),
    ("100M-element list, caught", big_list_caught, H64, 0, "recovered", 256, False),
    ("doubling string, 64 MiB heap", big_string_concat, H64, 70, "out of memory", 256, False),
    ("1 GB repeat(), 64 MiB heap", big_repeat, H64, 70, "out of memory", 256, False),
    ("100M-entry map, 64 MiB heap", big_map, H64, 70, "out of memory", 256, False),
    ("list(range(10^12)), 64 MiB heap", huge_range_list, H64, 70, "out of memory", 256, False),
    ("10,000 modules in an import cycle", module_cycle, [], 0, "done", 1024, True),
    ("module importing itself", module_self, [], None, None, 64, False),
    ("interpolation nested 1,000 deep", interp_nested, [], 65, "interpolation nested too deeply", 64, False),
    ("interpolation nested 20 deep", interp_nested_ok, [], 0, "x", 64, False),
    ("interpolation at end of line", interp_at_eol, [], 0, "a1ba1", 64, False),
    ("a million operators on one line", long_line, [], 0, "1000001", 512, True),
    ("200,000 constants", many_constants, [], 65, "too many constants in one function", 512, True),
    ("300 locals", many_locals, [], 65, "", 64, False),
    ("1,000 arguments", many_args, [], None, None, 64, False),
    ("1,000 parameters", many_params, [], 65, "", 64, False),
    ("printing 100,000-deep data", deep_data_print, [], 0, "true", 512, True),
    ("comparing 100,000-deep data", deep_data_equal, [], 0, "false", 512, True),
    ("self-containing containers", self_containing, [], 0, "{\"m\": {...}}", 64, False),
    ("10,000 compile errors", many_errors, [], 65, "", 64, False),
    ("64 KiB of random bytes", random_bytes, [], 65, "", 64, False),
    ("throwing a list", throw_non_error, [], 70, "", 64, False),
]


def check_row(row, tmp):
    name, gen, args, want_status, want_text, rss_mib, heavy = row
    src = gen(tmp)
    path = os.path.join(tmp, "main.gale")
    with open(path, "wb") as f:
        f.write(src)
    status, out, err, rss, secs = run(path, args, timeout=300 if SANITIZED else 120, cwd=tmp)
    problems = []
    first = err.splitlines()[0] if err else ""
    if status is None:
        problems.append("hung: killed after %.0f s" % secs)
    elif status < 0:
        problems.append("killed by signal %d; stderr: %r" % (-status, err[-500:]))
    elif want_status is None:
        # either outcome is acceptable, but an error must say something
        if status not in (0, 65, 70):
            problems.append("exit status %d" % status)
        elif status != 0 and not first.strip():
            problems.append("exit %d with an empty error message" % status)
    elif status != want_status:
        problems.append("exit status %d, expected %d; stderr: %r" % (status, want_status, err[:300]))
    elif want_status in (65, 70):
        if not first.startswith("main.gale:") and not first.startswith(path + ":"):
            problems.append("stderr first line %r does not start with the file name" % first)
        if want_text and not first.endswith(want_text) and want_text not in first:
            problems.append("stderr first line %r, expected %r" % (first, want_text))
    elif isinstance(want_text, tuple):
        if not any(t in out.splitlines() for t in want_text):
            problems.append("stdout %r has none of the lines %r" % (out[:300], want_text))
    elif want_text is not None and want_text not in out.splitlines():
        problems.append("stdout %r lacks the line %r" % (out[:300], want_text))
    if "AddressSanitizer" in err or "runtime error:" in err:
        problems.append("sanitizer report: %r" % err[:500])
    if not SANITIZED and rss > rss_mib * MiB:
        problems.append("peak RSS %d MiB, bound %d MiB" % (rss // MiB, rss_mib))
    return problems


def main():
    names = sys.argv[1:]
    passed = failed = skipped = 0
    for row in TABLE:
        if names and not any(n in row[0] for n in names):
            continue
        if row[6] and STRESS:
            skipped += 1
            continue
        with tempfile.TemporaryDirectory(prefix="gale-bad-") as tmp:
            problems = check_row(row, tmp)
        if problems:
            failed += 1
            print("FAIL %s" % row[0])
            for p in problems:
                print("     " + p)
        else:
            passed += 1
            print("ok   %s" % row[0], flush=True)
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
