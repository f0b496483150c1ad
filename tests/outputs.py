"""What the example checkers share (tests/docs, tests/examples): matching
printed output against expected lines, where "{...}" in an expected line
stands for any text, and linking C programs against a sanitizer build."""
import re

WILDCARD = "{...}"


def line_matches(want, got):
    if WILDCARD not in want:
        return want == got
    pattern = ".*?".join(re.escape(part) for part in want.split(WILDCARD))
    return re.fullmatch(pattern, got) is not None


def compare(want, got, what="line"):
    """None when the lists of lines match, else the first difference."""
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w is None:
            return "%s %d: unexpected extra output %r" % (what, i + 1, g)
        if g is None:
            return "%s %d: output ended; expected %r" % (what, i + 1, w)
        if not line_matches(w, g):
            return "%s %d:\n  expected %r\n  got      %r" % (what, i + 1, w, g)
    return None


def sanitizer_flags(lib):
    """A library built with sanitizers needs them at link time too."""
    with open(lib, "rb") as f:
        data = f.read()
    flags = []
    if b"__asan_" in data:
        flags.append("-fsanitize=address")
    if b"__ubsan_" in data:
        flags.append("-fsanitize=undefined")
    return flags
