"""The small runner the command-line tests share: register tests with
@test, then run_all() gives each a fresh temporary folder, reports every
failure and goes on, and ends with "N passed, M failed"."""
import shutil
import sys
import tempfile

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run_all(prefix):
    passed = failed = 0
    only = sys.argv[1:]
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        d = tempfile.mkdtemp(prefix=prefix)
        try:
            fn(d)
            passed += 1
            print("ok   %s" % fn.__name__)
        except Exception as ex:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, ex))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
