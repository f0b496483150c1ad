#!/usr/bin/env python3
"""REPL tests: drive `gale` through a pseudo-terminal as a person would,
typing lines and reading the screen.

Usage: GALE=build/gale python3 tests/cli/test_repl.py
Ends with the line "N passed, M failed"; exits non-zero on failure.
"""
import os
import pty
import re
import select
import signal
import time

GALE = os.path.abspath(os.environ.get("GALE", "build/gale"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")


class Term:
    """One gale process on a pseudo-terminal."""

    def __init__(self, home, args=(), extra_env=None, history=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GALE")}
        env.update({"HOME": home, "TERM": "xterm", "INPUTRC": "/dev/null"})
        if history:
            env["GALE_HISTORY"] = os.path.join(home, "history")
        env.update(extra_env or {})
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(GALE, [GALE] + list(args), env)
            finally:
                os._exit(127)
        self.raw = ""
        self.seen = 0  # how much of the screen text earlier expectations consumed

    def text(self):
        return ANSI.sub("", self.raw).replace("\r", "")

    def pump(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        self.raw += data.decode("utf-8", "replace")
        return True

    def expect(self, what, timeout=10):
        """Wait until `what` appears on the screen after the last match."""
        end = time.time() + timeout
        while True:
            t = self.text()
            i = t.find(what, self.seen)
            if i >= 0:
                self.seen = i + len(what)
                return t
            left = end - time.time()
            if left <= 0 or not self.pump(min(left, 0.2)) and self.exited():
                raise AssertionError("did not see %r; screen after last match:\n%s"
                                     % (what, t[self.seen:][-1500:]))

    def since(self):
        return self.text()[self.seen:]

    def settle(self, quiet=0.3):
        """Read until the screen stays unchanged for `quiet` seconds."""
        while self.pump(quiet):
            pass
        return self.since()

    def send(self, s):
        os.write(self.fd, s.encode())

    def line(self, s):
        self.send(s + "\r")

    def exited(self):
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.status = status
            return True
        return False

    def wait(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            self.pump(0.05)
            if hasattr(self, "status") or self.exited():
                return os.waitstatus_to_exitcode(self.status)
        raise AssertionError("gale did not exit")

    def close(self):
        try:
            if not hasattr(self, "status") and not self.exited():
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        os.close(self.fd)


from harness import run_all, test


def started(home, **kw):
    t = Term(home, **kw)
    t.expect("> ")
    return t


@test
def banner_and_prompt(home):
    t = started(home)
    assert "Gale" in t.text() and ":help" in t.text(), t.text()
    t.close()


@test
def echo_values(home):
    t = started(home)
    t.line("1 + 2")
    t.expect("3\n> ")
    t.line('"ab" + "cd"')
    t.expect('"abcd"\n> ')
    t.line("[1, \"x\", nil]")
    t.expect('[1, "x", nil]\n> ')
    t.line("nil")
    t.expect("> ")
    out = t.settle()
    assert out.strip() == "", "nil should echo nothing, got %r" % out
    t.line("print(\"plain\")")
    t.expect("plain\n> ")
    t.close()


@test
def continuation_prompt(home):
    t = started(home)
    t.line("fn twice(x) {")
    t.expect("... ")
    t.line("  return x * 2")
    t.expect("... ")
    t.line("}")
    t.expect("> ")
    t.line("twice(21)")
    t.expect("42\n> ")
    t.line("let xs = [1,")
    t.expect("... ")
    t.line("2, 3]")
    t.expect("> ")
    t.line("xs")
    t.expect("[1, 2, 3]\n> ")
    t.line("let raw = `first")
    t.expect("... ")
    t.line("second`")
    t.expect("> ")
    t.line("raw")
    t.expect('"first\\nsecond"\n> ')
    t.line("{")
    t.expect("... ")
    t.line("let inner = 1")
    t.expect("... ")
    t.line("print(inner + 1) }")
    t.expect("2\n> ")
    t.close()


@test
def errors_keep_the_state(home):
    t = started(home)
    t.line("let y = 5")
    t.expect("> ")
    t.line("y // 0")
    t.expect("integer division by zero")
    t.expect("> ")
    t.line("undefinedThing + 1")
    t.expect("undefined variable 'undefinedThing'")
    t.expect("> ")
    t.line("let = oops")
    t.expect("> ")
    t.line("y + 1")
    t.expect("6\n> ")
    t.close()


@test
def memstats_table(home):
    t = started(home)
    t.line(":memstats")
    out = t.expect("> ")
    out = out[out.rfind(":memstats"):]
    for word in ["heap", "stacks", "metadata", "other", "HeapAlloc", "HeapInuse", "HeapReleased",
                 "StackInuse", "MSpanInuse", "GCSys", "OtherSys", "MappedReady", "NextGC",
                 "MemoryLimit", "GCPercent", "NumGC", "Sys"]:
        assert re.search(r"\b%s\b" % re.escape(word), out), "missing %s in:\n%s" % (word, out)
    assert re.search(r"\d KiB|\d MiB", out), out
    assert re.search(r"MemoryLimit\s+none", out), out
    assert re.search(r"GCPercent\s+100\b", out), out
    t.close()


@test
def gc_command(home):
    t = started(home)
    for line in ["let junk = []", "for i in range(20000) { junk.push([i]) }", "junk = nil"]:
        t.line(line)
        t.expect(line)
        t.expect("> ")
    t.line(":gc")
    t.expect(":gc")
    out = t.expect("> ")
    m = re.search(r"freed ([\d.]+) (B|KiB|MiB) in (\d+) objects", out[out.rfind(":gc"):])
    assert m, out
    assert int(m.group(3)) >= 20000, out
    assert m.group(2) in ("KiB", "MiB"), out
    t.line('memstats()["NumForcedGC"] >= 1')
    t.expect("true\n> ")
    t.close()


@test
def help_lists_commands_and_builtins(home):
    t = started(home)
    t.line(":help")
    out = t.expect("> ")
    for word in [":help", ":memstats", ":gc", ":quit", "print", "len", "math.sqrt",
                 "os.clock", "io.open", "runtime.gc", "runtime.metrics"]:
        assert word in out, "missing %s in :help:\n%s" % (word, out)
    # every built-in has its one-line description
    line = [l for l in out.splitlines() if "math.sqrt" in l][0]
    assert len(line.split()) >= 3, line
    t.line(":nonsense")
    t.expect("unknown command")
    t.close()


@test
def tab_completes_module_members(home):
    t = started(home)
    t.send("math.sq\t")
    t.expect("math.sqrt")
    t.line("(16)")
    t.expect("4.0\n> ")
    t.close()


@test
def tab_completes_keywords_and_globals(home):
    t = started(home)
    t.line("let counterVariable = 7")
    t.expect("> ")
    t.send("counterV\t")
    t.expect("counterVariable")
    t.line("")
    t.expect("7\n> ")
    t.send("whi\t")
    t.expect("while")
    t.send(" false {}\r")
    t.expect("> ")
    t.send("memst\t")
    t.expect("memstats")
    t.send("\x15")  # Ctrl-U: clear the line
    t.line("1")
    t.expect("1\n> ")
    t.close()


@test
def history_saved_and_recalled(home):
    hist = os.path.join(home, "history")
    t = started(home)
    t.line("40 + 2")
    t.expect("42\n> ")
    t.line(":quit")
    assert t.wait() == 0
    t.close()
    with open(hist) as f:
        assert "40 + 2" in f.read()
    t = started(home)
    t.send("\x1b[A")  # up arrow: the last line, :quit
    t.expect(":quit")
    t.send("\x1b[A")  # and the one before
    t.expect("40 + 2")
    t.send("\r")
    t.expect("42\n> ")
    t.close()


@test
def default_history_file_in_home(home):
    t = Term(home, extra_env={"GALE_HISTORY": ""})
    t.expect("> ")
    t.line("7 * 6")
    t.expect("42\n> ")
    t.line(":quit")
    assert t.wait() == 0
    t.close()
    assert not os.path.exists(os.path.join(home, ".gale_history")), "empty GALE_HISTORY keeps none"
    assert not os.path.exists(os.path.join(home, "history"))
    t = Term(home, history=False)
    t.expect("> ")
    t.line("6 * 7")
    t.expect("42\n> ")
    t.line(":quit")
    assert t.wait() == 0
    t.close()
    with open(os.path.join(home, ".gale_history")) as f:
        assert "6 * 7" in f.read()


@test
def ctrl_c_interrupts_evaluation(home):
    t = started(home)
    t.line("let n = 0")
    t.expect("> ")
    t.line("while true { n += 1 }")
    t.expect("while true { n += 1 }\n")  # accepted: the loop is running
    time.sleep(0.3)
    t.send("\x03")
    t.expect("interrupted")
    t.expect("> ")
    t.line("n > 0")
    t.expect("true\n> ")
    t.close()


@test
def ctrl_c_at_prompt_discards_line(home):
    t = started(home)
    t.send("1 + ")
    t.expect("1 + ")
    t.send("\x03")
    t.expect("> ")
    t.line("2 + 2")
    t.expect("4\n> ")
    t.line("[1,")
    t.expect("... ")
    t.settle(0.1)
    t.send("\x03")
    t.expect("> ")
    t.line("5")
    t.expect("5\n> ")
    t.close()


@test
def ctrl_d_exits(home):
    t = started(home)
    t.send("\x04")
    assert t.wait() == 0
    t.close()


@test
def quit_command(home):
    t = started(home)
    t.line(":quit")
    assert t.wait() == 0
    t.close()


@test
def repl_after_script_with_dash_i(home):
    script = os.path.join(home, "s.gale")
    with open(script, "w") as f:
        f.write('runtime.setGCPercent(77)\nlet answer = 41\nfn next(n) { return n + 1 }\nprint("script ran")\n')
    t = Term(home, args=["-i", script])
    t.expect("script ran")
    t.expect("> ")
    # the same VM: the script's setting is still there
    t.line("runtime.setGCPercent(100)")
    t.expect("77\n> ")
    # and the same scope: the script's variables and functions
    t.line("next(answer)")
    t.expect("42\n> ")
    t.send("\x04")
    assert t.wait() == 0
    t.close()


@test
def modules_are_predefined(home):
    t = started(home)
    t.line("math.floor(2.7)")
    t.expect("2\n> ")
    t.line("type(io.stdout)")
    t.expect("> ")
    t.line("runtime.setGCPercent(-1)")
    t.expect("100\n> ")
    t.close()


if __name__ == "__main__":
    run_all("gale-repl-")
