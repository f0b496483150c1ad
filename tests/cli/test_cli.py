#!/usr/bin/env python3
"""Command-line tests: run the `gale` binary with each option, exit status
and environment variable, and check what it prints.

Usage: GALE=build/gale python3 tests/cli/test_cli.py [test names...]
Ends with the line "N passed, M failed"; exits non-zero on failure.
"""
import os
import re
import subprocess

GALE = os.path.abspath(os.environ.get("GALE", "build/gale"))


def run(args, stdin="", env=None, cwd=None, timeout=60):
    e = {k: v for k, v in os.environ.items() if not k.startswith("GALE")}
    e.update(env or {})
    p = subprocess.run([GALE] + list(args), input=stdin.encode(), capture_output=True,
                       env=e, cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect(result, status=0, out=None, err_has=None, out_has=None):
    code, o, e = result
    check(code == status, "exit status %d, expected %d\nstdout: %r\nstderr: %r" % (code, status, o, e))
    if out is not None:
        check(o == out, "stdout %r, expected %r (stderr %r)" % (o, out, e))
    for s in ([err_has] if isinstance(err_has, str) else err_has or []):
        check(s in e, "stderr lacks %r: %r" % (s, e))
    for s in ([out_has] if isinstance(out_has, str) else out_has or []):
        check(s in o, "stdout lacks %r: %r" % (s, o))
    return code, o, e


from harness import run_all, test


def write(d, name, text):
    path = os.path.join(d, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- information options ----

@test
def version(d):
    for flag in ["-v", "--version"]:
        code, o, e = expect(run([flag]))
        check(re.fullmatch(r"gale \d+\.\d+\.\d+\n", o), o)


@test
def help_lists_every_option_and_variable(d):
    for flag in ["-h", "--help"]:
        code, o, e = expect(run([flag]))
        for word in ["-e CODE", "-i", "-v, --version", "-h, --help", "--gc-percent",
                     "--memory-limit", "--max-heap", "--disasm", "GALEGC", "GALEMEMLIMIT",
                     "GALEDEBUG", "GALEPATH", "GALE_HISTORY", "KiB", "MiB", "GiB", "TiB",
                     "usage: gale"]:
            check(word in o, "--help lacks %r" % word)


# ---- what to run ----

@test
def dash_e_runs_code(d):
    expect(run(["-e", "print(1 + 2)"]), out="3\n")
    expect(run(["-eprint(40 + 2)"]), out="42\n")
    expect(run(["-e", "print(1)", "-e", "print(2)"]), out="1\n2\n")


@test
def dash_e_then_script(d):
    s = write(d, "t.gale", 'print("second", os.args)\n')
    expect(run(["-e", 'print("first")', s, "arg"]), out='first\nsecond ["arg"]\n')
    # a failing -e stops before the script
    expect(run(["-e", "1 // 0", s]), status=70, out="")


@test
def script_and_arguments(d):
    s = write(d, "args.gale", "print(os.args)\nprint(len(os.args))\n")
    expect(run([s, "a", "b c", "-e", "--version"]), out='["a", "b c", "-e", "--version"]\n4\n')
    expect(run([s]), out="[]\n0\n")


@test
def standard_input_when_not_a_terminal(d):
    expect(run([], stdin='print("from stdin")\n'), out="from stdin\n")
    expect(run([], stdin=""), out="")


@test
def dash_reads_standard_input_with_arguments(d):
    expect(run(["-", "x", "y"], stdin="print(os.args)\n"), out='["x", "y"]\n')


@test
def double_dash_ends_options(d):
    s = write(d, "-odd.gale", 'print("odd name", os.args)\n')
    expect(run(["--", s, "-i"]), out='odd name ["-i"]\n')


@test
def shebang_line(d):
    s = write(d, "sb.gale", "#!/usr/bin/env gale\nprint(\"shebang ok\")\n")
    expect(run([s]), out="shebang ok\n")


@test
def disasm_prints_bytecode_without_running(d):
    code, o, e = expect(run(["--disasm", "-e", 'print("ran")']))
    check("ran\n" != o and o.strip() != "", "disassembly expected, got %r" % o)
    check(not o.startswith("ran"), o)
    s = write(d, "dis.gale", 'fn f(x) { return x + 1 }\nprint(f(1))\n')
    code, o2, e = expect(run(["--disasm", s]))
    check(o2.strip() and "2\n" != o2, o2)


@test
def disasm_reads_standard_input(d):
    code, o, e = expect(run(["--disasm"], stdin='print("from stdin")\n'))
    check("from stdin" in o and o.strip() != "from stdin", "bytecode expected: %r" % o)


@test
def dash_i_with_piped_input(d):
    code, o, e = expect(run(["-i", "-e", 'print("code ran")'], stdin="1 + 2\nlet x = [1,\n2]\nx\n:quit\n"))
    check(o.startswith("code ran\n"), o)
    check("\n3\n" in o and "[1, 2]" in o and "... " in o, o)


# ---- exit statuses ----

@test
def exit_status_compile_error(d):
    s = write(d, "bad.gale", "print(1)\nlet = 3\n")
    code, o, e = expect(run([s]), status=65, err_has=":2:")
    check(o == "", "nothing may run after a compile error: %r" % o)
    check(re.search(r"bad\.gale:2:\d+: ", e), e)


@test
def exit_status_runtime_error(d):
    s = write(d, "rt.gale", 'print("before")\nfn f() { return 1 // 0 }\nf()\n')
    code, o, e = expect(run([s]), status=70, out="before\n")
    first = e.splitlines()[0]
    check(re.search(r"rt\.gale:2: integer division by zero$", first), first)
    check(len(e.splitlines()) >= 2, "a trace should follow: %r" % e)
    expect(run(["-e", 'throw error("from -e")']), status=70, err_has="from -e")


@test
def exit_status_success_and_os_exit(d):
    expect(run(["-e", "let x = 1"]), status=0, out="")
    expect(run(["-e", 'print("a"); os.exit(3); print("b")']), status=3, out="a\n")
    expect(run(["-e", "os.exit(0)"]), status=0)
    expect(run(["-e", "os.exit()"]), status=0)


@test
def missing_script_is_one_line(d):
    code, o, e = expect(run([os.path.join(d, "nope.gale")]), status=66)
    check(len(e.strip().splitlines()) == 1, e)
    check("nope.gale" in e and "No such file or directory" in e, e)
    code, o, e = expect(run([d]), status=66)  # a directory
    check(len(e.strip().splitlines()) == 1 and "directory" in e, e)


@test
def usage_errors_exit_2(d):
    for args, words in [(["--bogus"], "unknown option '--bogus'"),
                        (["-x"], "unknown option '-x'"),
                        (["-e"], "needs a value"),
                        (["--gc-percent"], "needs a value"),
                        (["--gc-percent", "lots"], "--gc-percent"),
                        (["--gc-percent", "-5"], "--gc-percent"),
                        (["--memory-limit", "12XB"], "malformed size '12XB'"),
                        (["--memory-limit", ""], "malformed size"),
                        (["--max-heap", "1.2.3MiB"], "malformed size '1.2.3MiB'"),
                        (["--max-heap", "-4MiB"], "--max-heap"),
                        (["--max-heap=lots"], "malformed size 'lots'")]:
        code, o, e = expect(run(args), status=2, err_has=words)
        check("--help" in e, "a hint should follow: %r" % e)


# ---- memory options ----

def memstat(args, key, env=None):
    code, o, e = expect(run(args + ["-e", 'print(memstats()["%s"])' % key], env=env))
    return int(o)


@test
def gc_percent_option(d):
    check(memstat([], "GCPercent") == 100, "default")
    check(memstat(["--gc-percent", "50"], "GCPercent") == 50, "50")
    check(memstat(["--gc-percent=250"], "GCPercent") == 250, "=250")
    check(memstat(["--gc-percent", "off"], "GCPercent") == -1, "off")
    check(memstat(["--gc-percent", "-1"], "GCPercent") == -1, "-1")


@test
def memory_limit_option(d):
    check(memstat([], "MemoryLimit") == 2**63 - 1, "default")
    for text, n in [("64MiB", 64 << 20), ("1GiB", 1 << 30), ("1.5GiB", 3 << 29),
                    ("4096", 4096), ("100B", 100), ("2KiB", 2048), ("1TiB", 1 << 40)]:
        got = memstat(["--memory-limit", text], "MemoryLimit")
        check(got == n, "%s gave %d, expected %d" % (text, got, n))
    check(memstat(["--memory-limit=8MiB"], "MemoryLimit") == 8 << 20, "=8MiB")


@test
def max_heap_raises_out_of_memory(d):
    s = write(d, "oom.gale", """
let keep = []
try {
  while true { keep.push("x".repeat(100000) + str(len(keep))) }
} catch e {
  print(e.message)
}
keep = nil
print("still running")
""")
    expect(run(["--max-heap", "16MiB", s]), out="out of memory\nstill running\n")
    s2 = write(d, "oom2.gale", 'let k = []\nwhile true { k.push("y".repeat(100000) + str(len(k))) }\n')
    code, o, e = expect(run(["--max-heap=8MiB", s2]), status=70, err_has="out of memory")


@test
def tiny_max_heap_never_crashes(d):
    # From too small for the VM itself, through too small for the modules,
    # to just enough: every step ends with a status, never a signal.
    outcomes = set()
    for kib in range(96, 321, 8):
        code, o, e = run(["--max-heap", "%dKiB" % kib, "-e", "print(math.floor(1.5))"])
        check(code >= 0, "%d KiB: killed by signal %d: %r" % (kib, -code, e))
        if code == 0:
            check(o == "1\n", "%d KiB: %r" % (kib, o))
        else:
            check("out of memory" in e, "%d KiB: status %d, stderr %r" % (kib, code, e))
        outcomes.add(code == 0)
    check(outcomes == {True, False}, "expected both failures and successes: %r" % outcomes)


@test
def galegc_variable(d):
    check(memstat([], "GCPercent", env={"GALEGC": "off"}) == -1, "off")
    check(memstat([], "GCPercent", env={"GALEGC": "30"}) == 30, "30")
    # the option wins over the variable
    check(memstat(["--gc-percent", "70"], "GCPercent", env={"GALEGC": "30"}) == 70, "option wins")
    expect(run(["-e", "1"], env={"GALEGC": "sometimes"}), status=2, err_has="GALEGC")


@test
def galememlimit_variable(d):
    check(memstat([], "MemoryLimit", env={"GALEMEMLIMIT": "256MiB"}) == 256 << 20, "256MiB")
    check(memstat([], "MemoryLimit", env={"GALEMEMLIMIT": "off"}) == 2**63 - 1, "off")
    check(memstat(["--memory-limit", "1MiB"], "MemoryLimit",
                  env={"GALEMEMLIMIT": "256MiB"}) == 1 << 20, "option wins")
    expect(run(["-e", "1"], env={"GALEMEMLIMIT": "12 parsecs"}), status=2, err_has="GALEMEMLIMIT")


@test
def galedebug_gctrace(d):
    code, o, e = expect(run(["-e", 'runtime.gc(); print("done")'], env={"GALEDEBUG": "gctrace=1"}),
                        out="done\n")
    check(re.search(r"^gc 1 @", e, re.M), "expected a gctrace line, got %r" % e)
    code, o, e = expect(run(["-e", 'runtime.gc(); print("done")']), out="done\n")
    check(not re.search(r"^gc \d+ @", e, re.M), "no trace without GALEDEBUG: %r" % e)


@test
def galedebug_gcstress_runs(d):
    expect(run(["-e", 'let l = []\nfor i in range(200) { l.push([i]) }\nprint(len(l))'],
               env={"GALEDEBUG": "gcstress=1"}), out="200\n")


@test
def galepath_variable(d):
    lib = os.path.join(d, "libdir")
    write(d, "libdir/extra/answers.gale", 'let answer = 42\n')
    s = write(d, "main/use.gale", 'import "extra/answers"\nprint(answers.answer)\n')
    expect(run([s], env={"GALEPATH": "/nonexistent:" + lib}), out="42\n")
    code, o, e = expect(run([s]), status=70)


# ---- modules from the command line ----

@test
def modules_are_globals(d):
    expect(run(["-e", 'print(type(math), type(os), type(io), type(runtime))']),
           out="module module module module\n")
    expect(run(["-e", 'import "math" as m\nprint(m == math, m.floor(3.5))']), out="true 3\n")


@test
def stdout_and_stderr_order(d):
    code, o, e = expect(run(["-e", 'print("a"); io.stdout.write("b\\n"); print("c"); io.stderr.write("E\\n")']),
                        out="a\nb\nc\n")
    check(e == "E\n", e)


@test
def input_reads_stdin_lines(d):
    s = write(d, "in.gale", 'let a = input()\nlet b = io.stdin.readLine()\nprint(a, b, input())\n')
    expect(run([s], stdin="one\ntwo\n"), out="one two nil\n")


if __name__ == "__main__":
    run_all("gale-cli-")
