#!/usr/bin/env python3
"""Instruction budgets of libkmem's hit paths (issue 10), checked by `make test`.

tests/budgets.txt's lines whose region starts with `host:` are host figures:
instructions per operation of build/host/libkmem.so on a benchmark of
tests/malloc_bench/, counted by valgrind's callgrind exactly as the malloc race
counts them (tools/bench_malloc.py: a run of 2n operations less a run of n,
over n, so start-up and exit cancel; the benchmark's own loop is included).
They are deterministic for one build, so docs/libkmem.md's and
docs/malloc_race.md's "88 instructions per pair" cannot go stale silently.
The kernel's regions (the other lines) are tools/profile.py --check-budgets'.

    python3 tools/host_budgets.py [--suggest]

One case per host line: over budget, unknown region, or no valgrind fails.
Ends with 'N passed, N failed'.
"""
import argparse
import math
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tools"))
import bench_malloc  # noqa: E402  (callgrind_ir: the race's own counter)

BUDGETS = os.path.join(TOP, "tests", "budgets.txt")
LIB = os.path.join(TOP, "build", "host", "libkmem.so")

# host region -> (benchmark binary, its arguments, n)
REGIONS = {
    "host:libkmem_pair_64": ("pair", ["-z", "64", "-t", "1"], 100000),
    "host:libkmem_xmalloc_1": ("xmalloc", ["-t", "1"], 50000),
}


def read_host_budgets(path):
    """[(region, max instructions/op, line number)] of the host: lines."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            w = line.split("#", 1)[0].split()
            if w and w[0].startswith("host:"):
                out.append((w[0], float(w[1]), n))
    return out


def measure(region):
    """Instructions per operation of libkmem on the region's benchmark."""
    binary, args, n = REGIONS[region]
    a = bench_malloc.callgrind_ir(binary, args + ["-S", "-n", str(n)], LIB)
    b = bench_malloc.callgrind_ir(binary, args + ["-S", "-n", str(2 * n)], LIB)
    return (b - a) / float(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suggest", action="store_true",
                    help="print the budget the margin policy gives (measured + 5%%, at least + 10)")
    opt = ap.parse_args()
    passed = failed = 0
    have_valgrind = os.system("command -v valgrind >/dev/null") == 0
    for region, budget, line in read_host_budgets(BUDGETS):
        if region not in REGIONS:
            print("budget %s (tests/budgets.txt:%d): no such host region (known: %s): FAIL"
                  % (region, line, ", ".join(sorted(REGIONS))))
            failed += 1
            continue
        if not have_valgrind:
            print("budget %s: valgrind missing (tools/deps.sh installs it): FAIL" % region)
            failed += 1
            continue
        try:
            got = measure(region)
        except Exception as e:  # a benchmark that fails its own checks
            print("budget %s: %s: FAIL" % (region, e))
            failed += 1
            continue
        ok = got <= budget
        passed, failed = passed + ok, failed + (not ok)
        print("budget %s: %.2f instructions/op (budget %g): %s" %
              (region, got, budget, "ok" if ok else "FAIL over budget"))
        if opt.suggest:
            print("  suggest: %s\t%d\t0.00" % (region, math.ceil(max(got * 1.05, got + 10))))
    print("host-budgets: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
