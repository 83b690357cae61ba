#!/usr/bin/env python3
"""`make bench-malloc`: the malloc race of issue 10 section 3.

Every benchmark binary (build/host/mbench-*, tests/malloc_bench/) runs under
every allocator, each put first by LD_PRELOAD into the same binary: glibc (no
preload), jemalloc, tcmalloc, mimalloc, and ours (build/host/libkmem.so; the
run says so when it is missing).  Each configuration (benchmark, threads) is
run REPS times, the allocators interleaved (their order rotates between
configurations and repetitions).  Kept: the BEST of the repetitions for
throughput (the binary's own ops/s line; six helpers share this machine's two
cores, and a neighbour's load only ever slows a run down, so the best run is
the one nearest an idle machine), and the MEDIAN for peak RSS (the child's
VmHWM from /proc/self/status at its end, which the binary prints: the
kernel's high-water mark of that address space.  Not ru_maxrss from wait4:
Linux carries the forking Python's RSS across execve into that figure).

The timed runs skip the binaries' selfcheck (-S: its 2 MiB of live
objects would hide the workload's own peak RSS); their tags are still
checked, and make test runs every binary with the selfcheck (--smoke).

Work per run is fixed (every allocator does the same operations): the counts
are calibrated once against glibc at one thread so that the whole race fits
the time budget (--budget seconds, default 360; with the instruction counts
the whole run stays under 10 minutes); if a repetition runs long, the later
ones are scaled down to fit.  Instruction counts per operation come from
valgrind's callgrind (a run of 2n less a run of n), costs that the host's
load does not change (--no-icount skips them).

Writes the table to stdout and into docs/malloc_race.md (between the
'race:begin' and 'race:end' markers; the prose around them is hand-written)
and one SVG per benchmark, docs/malloc_race_<bench>.svg: each allocator's
throughput and peak RSS as a ratio to the best peer (glibc, jemalloc,
tcmalloc, mimalloc) of the same run.

  bench_malloc.py [--budget S] [--reps N] [--threads 1,2,4,8] [--bench a,b]
  bench_malloc.py --quick     tiny counts, 1 repetition, no docs written
  bench_malloc.py --bench xmalloc --no-docs --also before=/tmp/old-libkmem.so
                              a focused race: one benchmark, nothing written,
                              another build of ours as one more column (not a
                              peer: ratios stay against the four peers)
  bench_malloc.py --profile A where allocator A's instructions go (callgrind,
                              per function) and its idle peak RSS
  bench_malloc.py --smoke     make test: every binary under every allocator
                              at a tiny count must pass its own checks, and
                              under build/host/mbench-broken.so must fail;
                              prints 'N passed, N failed, N skipped'
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = os.path.join(TOP, "build", "host")
DOCS = os.path.join(TOP, "docs")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
OURS = os.path.join(HOST, "libkmem.so")
PEERS = [("glibc", None),
         ("jemalloc", os.path.join(LIBDIR, "libjemalloc.so.2")),
         ("tcmalloc", os.path.join(LIBDIR, "libtcmalloc_minimal.so.4")),
         ("mimalloc", os.path.join(LIBDIR, "libmimalloc.so.2"))]
PACKAGES = ["libc6", "libjemalloc2", "libtcmalloc-minimal4", "libmimalloc2.0"]

# (name, binary, extra arguments, starting count for calibration)
BENCHES = [("pair-16", "pair", ["-z", "16"], 200000),
           ("pair-64", "pair", ["-z", "64"], 200000),
           ("pair-256", "pair", ["-z", "256"], 200000),
           ("pair-1024", "pair", ["-z", "1024"], 200000),
           ("pair-4096", "pair", ["-z", "4096"], 200000),
           ("larson", "larson", [], 100000),
           ("xmalloc", "xmalloc", [], 50000),
           ("scratch", "scratch", [], 2000),
           ("random", "random", [], 50000)]
THREADS = [1, 2, 4, 8]
RESULT = re.compile(r"^mbench (\S+) threads=(\d+) size=(\d+) ops=(\d+) secs=([\d.]+) "
                    r"ops_per_s=([\d.]+) hwm_kb=(-?\d+) ok$", re.M)


def allocators():
    """[(name, preload path or None)]: the peers, and ours when it exists."""
    have = [(n, p) for n, p in PEERS if p is None or os.path.exists(p)]
    if os.path.exists(OURS):
        have.append(("ours", OURS))
    return have


def run_one(binary, args, preload, timeout=120):
    """Run one benchmark; returns (status, output, the child's rusage or None).
    status is the exit code, or None on timeout."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if preload:
        env["LD_PRELOAD"] = preload
    p = subprocess.Popen([os.path.join(HOST, "mbench-" + binary)] + args, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline, out = time.time() + timeout, b""
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            return None, p.stdout.read().decode("utf-8", "replace"), None
        time.sleep(0.002)
    out = p.stdout.read().decode("utf-8", "replace")
    p.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    return code, out, ru


def measure(binary, args, preload, timeout=120):
    """(ops/s, peak RSS KiB, CPU ns per op: user + system time of every thread)
    of one run, or raise RuntimeError naming the failure."""
    code, out, ru = run_one(binary, args, preload, timeout)
    m = RESULT.search(out)
    if code != 0 or not m:
        what = "timed out" if code is None else "exit %s" % code
        raise RuntimeError("%s %s under %s: %s: %s" % (
            binary, " ".join(args), preload or "glibc", what, out.strip()[-300:]))
    return (float(m.group(6)), int(m.group(7)),
            (ru.ru_utime + ru.ru_stime) * 1e9 / max(1, int(m.group(4))))


# ------------------------------------------------------------------ smoke (make test)

def smoke():
    """Every binary under every allocator at a tiny count, at 1 and 4
    threads: each must pass its own checks.  The control allocators: under
    mbench-bump.so (correct, never reuses) each must pass; under
    mbench-broken.so (overlapping blocks) each must fail, through its
    selfcheck, and the workloads that keep objects alive (larson, xmalloc,
    random) also with the selfcheck off (-S): through their own tags, or
    killed by the corruption before a tag is read (a signal, not a silent
    pass; a timeout counts as a failure of the case).  One case per run."""
    passed, failed, skipped = 0, 0, 0
    allocs = allocators() + [("bump-control", os.path.join(HOST, "mbench-bump.so"))]
    if not os.path.exists(OURS):
        print("skip: ours: %s missing (make host-tools builds it)" % os.path.relpath(OURS, TOP))
        skipped += 1
    runs = [(n, b, a, 4000) for n, b, a, _ in BENCHES if n in ("pair-16", "pair-4096")] + \
           [(n, b, a, 4000) for n, b, a, _ in BENCHES if not n.startswith("pair")]
    for name, binary, args, count in runs:
        for alloc, path in allocs:
            for t in (1, 4):
                cmd = args + ["-t", str(t), "-n", str(count if binary != "scratch" else 200)]
                code, out, _ = run_one(binary, cmd, path, timeout=30)
                ok = code == 0 and RESULT.search(out)
                passed, failed = passed + bool(ok), failed + (not ok)
                if not ok:
                    print("FAIL: %s -t %d under %s: exit %s: %s" % (
                        name, t, alloc, code, out.strip()[-200:]))
    broken = os.path.join(HOST, "mbench-broken.so")
    for name, binary, args, _ in BENCHES:
        for extra in ([[]] + ([["-S"]] if binary in ("larson", "xmalloc", "random") else [])):
            cmd = args + extra + ["-t", "2", "-n", "4000"]
            code, out, _ = run_one(binary, cmd, broken, timeout=30)
            # caught by its own checks, or killed by the corruption (a signal):
            # either way not a silent pass; a timeout says nothing
            ok = (code == 1 and "mbench FAIL:" in out) or (code is not None and code < 0)
            passed, failed = passed + ok, failed + (not ok)
            if code is None:
                print("FAIL: %s %s under the broken allocator timed out (30 s)" % (
                    name, " ".join(extra)))
            elif not ok:
                print("FAIL: %s %s passed under the broken allocator (exit %s): its "
                      "checks cannot see overlapping objects" % (name, " ".join(extra), code))
    print("malloc-bench smoke: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


# ------------------------------------------------------------------ the race

def calibrate(benches, per_run):
    """Count per benchmark that takes about per_run seconds with glibc at one thread."""
    counts = {}
    for name, binary, args, n in benches:
        while True:
            code, out, _ = run_one(binary, args + ["-t", "1", "-n", str(n), "-S"], None)
            m = RESULT.search(out)
            if code != 0 or not m:
                raise RuntimeError("calibration of %s failed: %s" % (name, out.strip()[-300:]))
            secs = float(m.group(5))
            if secs >= 0.05:
                break
            n *= 4
        counts[name] = max(1000, int(n * per_run / secs))
    return counts


def race(o):
    allocs = allocators() + o.also
    benches = [b for b in BENCHES if not o.bench or b[0] in o.bench or b[1] in o.bench]
    configs = [(b, t) for b in benches for t in o.threads]
    runs = len(configs) * len(allocs) * o.reps
    per_run = max(0.01, 0.8 * o.budget / max(1, runs)) if not o.quick else 0.01
    t0 = time.time()
    print("malloc race: %d allocators x %d configurations x %d repetitions; about %.2f s a "
          "run (budget %d s); %d CPUs" % (len(allocs), len(configs), o.reps, per_run, o.budget,
                                           os.cpu_count()), flush=True)
    if not os.path.exists(OURS):
        print("ours: %s missing: not in this race (make host-tools builds it)"
              % os.path.relpath(OURS, TOP), flush=True)
    counts = calibrate(benches, per_run)
    samples = {}            # (bench, threads, alloc) -> [(ops/s, rss)]
    failures = []
    scale = 1.0
    for rep in range(o.reps):
        rep_start = time.time()
        for ci, (b, t) in enumerate(configs):
            name, binary, args, _ = b
            order = allocs[(ci + rep) % len(allocs):] + allocs[:(ci + rep) % len(allocs)]
            n = max(1000, int(counts[name] * scale))
            for alloc, path in order:
                try:
                    r = measure(binary, args + ["-S", "-t", str(t), "-n", str(n)], path,
                                timeout=max(60, 40 * per_run))
                    samples.setdefault((name, t, alloc), []).append(r)
                except RuntimeError as e:
                    failures.append(str(e))
                    print("FAIL:", e, flush=True)
        spent, left = time.time() - rep_start, o.budget - (time.time() - t0)
        if rep + 1 < o.reps and spent * (o.reps - rep - 1) > left > 0:
            scale *= max(0.1, left / (spent * (o.reps - rep - 1)))
            print("repetition %d took %.0f s: later counts scaled by %.2f to fit the budget"
                  % (rep + 1, spent, scale), flush=True)
        print("repetition %d of %d done (%.0f s)" % (rep + 1, o.reps, time.time() - t0),
              flush=True)
    return allocs, benches, samples, failures, time.time() - t0


def summarize(allocs, benches, threads, samples):
    """rows: [(bench, threads, {alloc: (best ops/s, median RSS, tput ratio,
    rss ratio)})], ratios against the best peer of the same configuration (highest ops/s,
    lowest RSS)."""
    rows = []
    peers = [n for n, _ in PEERS]
    for name, _, _, _ in benches:
        for t in threads:
            med = {}
            for alloc, _ in allocs:
                s = samples.get((name, t, alloc))
                if s:
                    med[alloc] = (max(x[0] for x in s),
                                  statistics.median(x[1] for x in s))
            best_t = max((med[a][0] for a in peers if a in med), default=None)
            best_r = min((med[a][1] for a in peers if a in med), default=None)
            cells = {a: (v[0], v[1], v[0] / best_t if best_t else None,
                         v[1] / best_r if best_r else None) for a, v in med.items()}
            rows.append((name, t, cells))
    return rows


def cpu_table(allocs, benches, threads, samples):
    """CPU time per operation (user + system, all threads; the median of the
    repetitions, then the lowest): what a run costs, whatever the scheduler
    made of its waits.  With a shared host the best wall-clock run is
    partly luck; these move less."""
    names = [a for a, _ in allocs]
    lines = ["| benchmark | thr | " + " | ".join("%s CPU ns/op med (min)" % a for a in names) + " |",
             "|" + "---|" * (2 + len(names))]
    for name, _, _, _ in benches:
        for t in threads:
            cells = []
            for a in names:
                s = [x[2] for x in samples.get((name, t, a), [])]
                cells.append("%.1f (%.1f)" % (statistics.median(s), min(s)) if s else "-")
            lines.append("| %s | %d | %s |" % (name, t, " | ".join(cells)))
    return "\n".join(lines)


def fmt_rate(x):
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return "%.3g%s" % (x / div, unit)
    return "%.3g" % x


def table(allocs, rows):
    """The race table in Markdown (also what stdout shows)."""
    names = [a for a, _ in allocs]
    head = "| benchmark | thr | " + " | ".join(
        "%s ops/s (x best)" % a for a in names) + " | " + " | ".join(
        "%s RSS MiB (x best)" % a for a in names) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(names))]
    for name, t, cells in rows:
        tp, rs = [], []
        for a in names:
            c = cells.get(a)
            if c is None:
                tp.append("failed")
                rs.append("-")
                continue
            tp.append("%s (%.2f)" % (fmt_rate(c[0]), c[2]))
            rs.append("%.1f (%.2f)" % (c[1] / 1024.0, c[3]))
        lines.append("| %s | %d | %s | %s |" % (name, t, " | ".join(tp), " | ".join(rs)))
    return "\n".join(lines)


def goals(rows):
    """The issue's goals for ours, checked on this run's figures."""
    out = []
    for label, pick, field, test in (
            ("throughput >= best peer on the single-thread pair",
             lambda n, t: n.startswith("pair-") and t == 1, 2, lambda r: r >= 1.0),
            ("throughput >= best peer on cross-thread frees (xmalloc)",
             lambda n, t: n == "xmalloc", 2, lambda r: r >= 1.0),
            ("peak RSS <= 1.1 x best peer everywhere", lambda n, t: True, 3,
             lambda r: r <= 1.1)):
        sel = [(n, t, c["ours"][field]) for n, t, c in rows if pick(n, t) and "ours" in c]
        if not sel:
            out.append("- %s: not measured (ours missing)" % label)
            continue
        miss = [(n, t, r) for n, t, r in sel if not test(r)]
        out.append("- %s: %s" % (label, "met (%d of %d)" % (len(sel), len(sel)) if not miss else
                                 "missed in %d of %d: %s" % (len(miss), len(sel), ", ".join(
                                     "%s/%dt %.2f" % m for m in miss))))
    return "\n".join(out)


def versions():
    """Package versions of the peers (dpkg), one line."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n"] + PACKAGES,
                             capture_output=True, text=True).stdout
        return ", ".join(out.split("\n")[:-1])
    except OSError:
        return "dpkg-query not available"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# ------------------------------------------------------------------ instruction counts

# (label, binary, arguments, n): instructions per operation under valgrind's
# callgrind, which counts every instruction the process retires (valgrind
# serialises threads, so these are costs, not speeds, and the host's load
# does not touch them).
ICOUNT = [("pair-16", "pair", ["-z", "16"], 100000),
          ("pair-64", "pair", ["-z", "64"], 100000),
          ("pair-256", "pair", ["-z", "256"], 100000),
          ("pair-1024", "pair", ["-z", "1024"], 100000),
          ("pair-4096", "pair", ["-z", "4096"], 100000),
          ("xmalloc-1", "xmalloc", ["-t", "1"], 50000),
          ("larson-1", "larson", ["-t", "1"], 50000)]


def callgrind_ir(binary, args, preload, out="/dev/null"):
    """Instructions the whole run retired, from callgrind's 'Collected' line."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if preload:
        env["LD_PRELOAD"] = preload
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                        os.path.join(HOST, "mbench-" + binary)] + args,
                       env=env, capture_output=True, text=True, timeout=600)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or not m or "ok" not in p.stdout:
        raise RuntimeError("callgrind %s %s under %s: %s" % (
            binary, " ".join(args), preload or "glibc", (p.stdout + p.stderr)[-300:]))
    return int(m.group(1))


def icounts(allocs):
    """{(label, alloc): instructions per operation}: the difference between a
    run of 2n and a run of n operations, divided by n, so start-up, the
    selfcheck and exit cancel out.  Includes the benchmark's own loop (the
    same binary for every allocator)."""
    res = {}
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode:
        print("valgrind missing: no instruction counts", flush=True)
        return res
    for label, binary, args, n in ICOUNT:
        for alloc, path in allocs:
            try:
                a = callgrind_ir(binary, args + ["-S", "-n", str(n)], path)
                b = callgrind_ir(binary, args + ["-S", "-n", str(2 * n)], path)
                res[(label, alloc)] = (b - a) / float(n)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("FAIL:", e, flush=True)
    return res


def icount_table(allocs, res):
    names = [a for a, _ in allocs]
    lines = ["| operation | " + " | ".join(names) + " |", "|" + "---|" * (1 + len(names))]
    for label, _, _, _ in ICOUNT:
        cells = ["%.0f" % res[(label, a)] if (label, a) in res else "-" for a in names]
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    for a in names:
        if not any((label, a) for label, _, _, _ in ICOUNT if (label, a) in res):
            lines.append("\n%s: no count (it did not run under valgrind; for libkmem see "
                         "docs/malloc_race.md, --icount-ours)." % a)
    return "\n".join(lines)


def profile(name):
    """Where one allocator's instructions go: callgrind's self cost per
    function (callgrind_annotate) for each ICOUNT workload, and the peak RSS
    of a run that allocates almost nothing (the allocator's start-up cost)."""
    if "=" in name:                     # NAME=PATH: a build of one's own
        name, path = name.split("=", 1)
    else:
        path = dict(allocators()).get(name, "missing") if name != "glibc" else None
    if path == "missing":
        print("profile: no allocator named %r here (have: %s)" % (
            name, ", ".join(a for a, _ in allocators())))
        return 1
    for label, binary, args, n in ICOUNT:
        if label in ("pair-16", "pair-256", "pair-1024"):
            continue            # like pair-64
        out = "/tmp/mbench-callgrind.%d" % os.getpid()
        ir = callgrind_ir(binary, args + ["-S", "-n", str(n)], path, out)
        ann = subprocess.run(["callgrind_annotate", "--inclusive=no", out],
                             capture_output=True, text=True).stdout
        os.unlink(out)
        rows = [l for l in ann.splitlines() if re.match(r"^\s*[\d,]+ \(", l)][:14]
        print("== %s under %s: %d instructions for n=%d (whole run)" % (label, name, ir, n))
        print("\n".join(rows))
    code, out, _ = run_one("pair", ["-S", "-n", "1", "-z", "16"], path)
    m = RESULT.search(out)
    print("== idle: peak RSS of a run of one pair: %s KiB" % (m.group(7) if m else "?"))
    return 0


# ------------------------------------------------------------------ SVG

COLORS = {"glibc": "#7f7f7f", "jemalloc": "#1f77b4", "tcmalloc": "#2ca02c",
          "mimalloc": "#ff7f0e", "ours": "#d62728"}


def svg_panel(x0, y0, w, h, title, groups, allocs, field, ymax):
    """One bar panel: groups = [(label, cells)], bars = each allocator's ratio
    (cells[a][field]); a dashed line at 1.0 (the best peer)."""
    e = ['<text x="%d" y="%d" font-size="12" font-weight="bold">%s</text>' % (x0, y0 - 6, title)]
    e.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>'
             % (x0, y0, w, h))
    for k in range(0, int(ymax * 4) + 1):
        v = k / 4.0
        y = y0 + h - h * v / ymax
        e.append('<text x="%d" y="%.1f" font-size="9" text-anchor="end">%.2f</text>'
                 % (x0 - 3, y + 3, v))
        if k:
            e.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"%s/>' % (
                x0, x0 + w, y, y, "#000" if v == 1.0 else "#eee",
                ' stroke-dasharray="4,3"' if v == 1.0 else ""))
    gw = w / max(1, len(groups))
    bw = gw * 0.8 / max(1, len(allocs))
    for gi, (label, cells) in enumerate(groups):
        gx = x0 + gi * gw + gw * 0.1
        e.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>'
                 % (x0 + gi * gw + gw / 2, y0 + h + 12, label))
        for ai, a in enumerate(allocs):
            c = cells.get(a)
            if c is None or c[field] is None:
                continue
            v = min(c[field], ymax)
            bh = h * v / ymax
            e.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                     '<title>%s %s: %.2f</title></rect>' % (
                         gx + ai * bw, y0 + h - bh, bw * 0.9, bh, COLORS.get(a, "#000"),
                         a, label, c[field]))
    return e


def write_svg(path, bench_title, panels, allocs):
    """panels = [(title, groups)]: a throughput row and a peak-RSS row each."""
    pw, ph, mx, my = 300, 150, 50, 40
    width = max(mx + len(panels) * (pw + mx), mx + 85 * len(allocs) + 20)
    height = 2 * (ph + my + 34) + 80
    names = [a for a, _ in allocs]
    e = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif">' % (width, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>' % (mx, bench_title),
         '<text x="%d" y="34" font-size="11">each allocator / the best peer of the same run '
         '(dashed line: 1.0)</text>' % mx]
    for row, (field, what) in enumerate(((2, "throughput / best peer's (higher is better)"),
                                         (3, "peak RSS / best peer's (lower is better)"))):
        top = 60 + row * (ph + my + 34)
        e.append('<text x="%d" y="%d" font-size="13">%s</text>' % (mx, top - 6, what))
        ymax = max([1.25] + [c[field] for _, g in panels for _, cells in g
                             for c in cells.values() if c[field] is not None])
        ymax = min(4.0, (int(ymax * 4) + 1) / 4.0)
        for pi, (title, groups) in enumerate(panels):
            e += svg_panel(mx + pi * (pw + mx), top + 30, pw, ph, title, groups, names,
                           field, ymax)
    ly = height - 16
    for ai, a in enumerate(names):
        e.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>'
                 % (mx + ai * 85, ly - 9, COLORS.get(a, "#000")))
        e.append('<text x="%d" y="%d" font-size="11">%s</text>' % (mx + ai * 85 + 14, ly, a))
    e.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


def write_svgs(allocs, rows, threads):
    by = {}
    for name, t, cells in rows:
        by.setdefault(name.split("-")[0], {}).setdefault(name, []).append(("%d thr" % t, cells))
    paths = []
    for bench, variants in by.items():
        panels = [(v, groups) for v, groups in variants.items()]
        path = os.path.join(DOCS, "malloc_race_%s.svg" % bench)
        write_svg(path, bench, panels, allocs)
        paths.append(path)
    return paths


# ------------------------------------------------------------------ docs

def write_doc(text):
    """Replace the generated block of docs/malloc_race.md (creating the file
    or the markers if absent); the prose outside the markers is kept."""
    path = os.path.join(DOCS, "malloc_race.md")
    begin, end = "<!-- race:begin (tools/bench_malloc.py writes this block) -->", "<!-- race:end -->"
    old = open(path).read() if os.path.exists(path) else "# The malloc race\n\n"
    block = begin + "\n" + text.rstrip() + "\n" + end
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(new)
    return path


def replot():
    """Redraw the SVGs from the table in docs/malloc_race.md (its ratios)."""
    text = open(os.path.join(DOCS, "malloc_race.md")).read()
    head = re.search(r"^\| benchmark \| thr \| (.*) \|$", text, re.M)
    names = [c.split(" ops/s")[0] for c in head.group(1).split(" | ") if " ops/s" in c]
    rows = []
    for m in re.finditer(r"^\| (\S+) \| (\d+) \| (.*) \|$", text, re.M):
        cols = m.group(3).split(" | ")
        if len(cols) != 2 * len(names):
            continue            # another table (instruction counts)
        cells = {}
        for k, a in enumerate(names):
            t = re.match(r"(\S+) \(([\d.]+)\)", cols[k])
            r = re.match(r"([\d.]+) \(([\d.]+)\)", cols[len(names) + k])
            if t and r:
                cells[a] = (None, float(r.group(1)), float(t.group(2)), float(r.group(2)))
        rows.append((m.group(1), int(m.group(2)), cells))
    paths = write_svgs([(a, None) for a in names], rows, None)
    print("redrew", ", ".join(os.path.relpath(p, TOP) for p in paths))
    return 0


def arg_parser():
    """The command line of the docstring above."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=int, default=360,
                    help="seconds for the timed race (the instruction counts add ~2 min)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (best ops/s and median RSS are kept)")
    ap.add_argument("--threads", default="1,2,4,8")
    ap.add_argument("--bench", default="", help="comma list of benchmark names (default all)")
    ap.add_argument("--quick", action="store_true", help="tiny counts, 1 rep, no docs")
    ap.add_argument("--smoke", action="store_true", help="make test's correctness check")
    ap.add_argument("--profile", metavar="ALLOC[=SO]",
                    help="callgrind's per-function costs of one allocator (or of a build "
                         "given as NAME=PATH), and its idle RSS")
    ap.add_argument("--icount-ours", metavar="SO",
                    help="count ours' instructions with this build instead (one valgrind "
                         "can start: see docs/malloc_race.md)")
    ap.add_argument("--replot", action="store_true",
                    help="redraw the SVGs from the table in docs/malloc_race.md")
    ap.add_argument("--no-icount", action="store_true",
                    help="skip the instruction counts (valgrind, about 2 minutes)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=SO",
                    help="one more column: this preload (e.g. another build of ours), "
                         "interleaved with the others, not a peer (repeatable)")
    ap.add_argument("--cpu", action="store_true",
                    help="also print CPU time per operation (median of the repetitions)")
    ap.add_argument("--no-docs", action="store_true",
                    help="print the table and goals only: no instruction counts, "
                         "nothing written to docs/")
    return ap


def race_text(o, tab, g, ic, secs, failures):
    """What goes between the race markers of docs/malloc_race.md: the run's
    conditions, the table tab, the goals g, the instruction counts ic, the failures."""
    ncpu = os.cpu_count()
    text = "\n".join([
        "Run of %s UTC, %.0f s, best of %d repetitions for ops/s and median for RSS "
        "(allocators interleaved), on %d CPUs "
        "(%s); %s." % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), secs, o.reps, ncpu,
                       cpu_model(), versions()),
        "" if os.path.exists(OURS) else
        "\n**ours: build/host/libkmem.so was missing: not in this run.**\n",
        "Each cell: ops/s (or peak RSS) and, in brackets, the ratio to the best peer of the same row "
        "(throughput: the highest; RSS: the lowest).  With %d CPUs, 4 and 8 threads "
        "time-share the cores." % ncpu,
        "", tab, "", "Goals of issue 10 for ours, on this run:", "", g, "",
        "Instructions per operation (valgrind callgrind: a run of 2n operations less a run "
        "of n, over n; one pair = malloc + free, one xmalloc/larson op = one object's "
        "malloc and free; the benchmark's own loop, tags and checks included, the same for "
        "every column):", "", ic, ""]
        + (["Failures:", ""] + ["- " + f for f in failures] if failures else []))
    return text


def main():
    ap = arg_parser()
    o = ap.parse_args()
    if o.smoke:
        return smoke()
    if o.profile:
        return profile(o.profile)
    if o.replot:
        return replot()
    o.threads = [int(x) for x in o.threads.split(",")]
    o.bench = [x for x in o.bench.split(",") if x]
    if o.quick:
        o.reps = 1
    also = [a.split("=", 1) for a in o.also]
    bad = [a for a in also if len(a) != 2 or not os.path.exists(a[1]) or
           a[0] in [n for n, _ in PEERS] + ["ours"]]
    if bad:
        ap.error("--also NAME=SO: needs a new name and an existing file: %s"
                 % ", ".join("=".join(a) for a in bad))
    o.also = [(n, os.path.abspath(p)) for n, p in also]
    allocs, benches, samples, failures, secs = race(o)
    rows = summarize(allocs, benches, o.threads, samples)
    tab = table(allocs, rows)
    print(tab)
    if o.cpu:
        print(cpu_table(allocs, benches, o.threads, samples))
    g = goals(rows)
    print(g)
    if o.quick or o.no_docs:
        return 1 if failures else 0
    ic_allocs = [(a, o.icount_ours if a == "ours" and o.icount_ours else p) for a, p in allocs]
    ic = icount_table(allocs, icounts(ic_allocs)) if not o.no_icount else "(not run: --no-icount)"
    if o.icount_ours and not o.no_icount:
        ic += "\n\nours counted with %s (--icount-ours), not build/host/libkmem.so." % o.icount_ours
    print(ic)
    text = race_text(o, tab, g, ic, secs, failures)
    doc = write_doc(text)
    svgs = write_svgs(allocs, rows, o.threads)
    print("wrote %s and %s" % (os.path.relpath(doc, TOP),
                               ", ".join(os.path.relpath(p, TOP) for p in svgs)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
