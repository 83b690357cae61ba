#!/usr/bin/env python3
"""Boot the kernel under the qprof QEMU plugin and print its report.

    tools/profile.py [--smp N] [--mem SIZE] [--numa N] [--board NAME] [--fw default|jump]
                     [--args "ktest"] [--top N] [--timeout S] [--raw] [-v]
    tools/profile.py --selftest
    tools/profile.py --check-budgets tests/budgets.txt [--suggest]

The plugin (tools/qprof.c, built as build/host/libqprof.so) writes a
line-oriented record to build/profile/qprof.log; the kernel console goes to
build/profile/console.log.  From the plugin's call tree, cache model and
sharing table and the console's stress lines it also writes
build/profile/profile.json, profile-text.txt, folded-cpu<N>.txt and
flame-cpu<N>.svg (docs/profiling.md), then runs tools/report.py on the JSON
if that script exists.  This script joins the two: the kernel's
"prof: region NAME cpu C hart H iters K" lines are paired, per hart and in
order, with the plugin's region windows on the vCPU of the same index (on
QEMU virt, vCPU i is hart i).  The report format is described in
docs/profiling.md and is kept stable: scripts may parse it.

--check-budgets boots BUDGET_BOOT (below) under the plugin, measures every
region and compares each with its line in the budgets file
(`REGION MAX_INSTRUCTIONS_PER_OP MAX_ATOMICS_PER_OP`, # comments); it fails
when a region is over budget, missing from the boot, or measured without a
budget.  --suggest prints the budget lines the margin policy gives for what
was measured (docs/profiling.md, "Budgets").

Exit status: 0 when the plugin report is complete, 1 when it is missing or
cut off (or a budget check failed), 2 on bad usage.  A kernel that exits non-zero (a failed ktest) only
adds a "warning" line: the profile is still valid.
"""

import argparse
import contextlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402  (tools/qemu.py: the one place QEMU arguments are built)

TOP = qemu.TOP
# The one configuration `make check-budgets` measures.  Only single-hart suites
# run, so the allocator state each region starts from, and therefore every
# figure, is the same on every run; a suite that adds regions is added here.
# Two NUMA nodes, so that kmem_remote_free_pair (a free on another node's
# hart) is measured; kmem_prof's regions run on one hart each, in sequence.
BUDGET_BOOT = {"smp": 4, "mem": "1G", "numa": 2, "board": "", "fw": "default",
               "args": "ktest=prof,page,vmem,kmem_prof"}
REGION_RE = re.compile(r"prof: region (.+) cpu (\d+) hart (\d+) iters (\d+)\s*$")


def parse_cmdline():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", default=os.path.join(TOP, "build/kernel.elf"))
    ap.add_argument("--plugin", default=os.path.join(TOP, "build/host/libqprof.so"))
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--numa", type=int, default=0, help="NUMA nodes (0: none)")
    ap.add_argument("--board", default="", help="dts/ board name (dts/NAME.qemu, build/dts/NAME.dtb)")
    ap.add_argument("--fw", default="default", choices=["default", "jump"])
    ap.add_argument("--args", default="ktest", help="kernel command line (default: ktest)")
    ap.add_argument("--top", type=int, default=10, help="functions listed per hart")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before QEMU is stopped")
    ap.add_argument("--outdir", default=os.path.join(TOP, "build/profile"))
    ap.add_argument("--raw", action="store_true", help="also print the plugin's raw record")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo the console")
    ap.add_argument("--check-budgets", metavar="FILE",
                    help="boot the budget configuration and check every region against FILE")
    ap.add_argument("--suggest", action="store_true",
                    help="with --check-budgets: print budget lines for what was measured")
    ap.add_argument("--callgraph", choices=["on", "off"], default="on",
                    help="shadow call stack, folded stacks and flame graphs (default on)")
    ap.add_argument("--cache", choices=["on", "off"], default="on",
                    help="L1 data cache model and false-sharing table (default on)")
    ap.add_argument("--cache-size", type=int, default=32768, help="bytes (default 32 KiB)")
    ap.add_argument("--cache-ways", type=int, default=8, help="associativity (default 8)")
    ap.add_argument("--cache-line", type=int, default=64, help="bytes (default 64)")
    ap.add_argument("--fs-window-us", type=int, default=1000,
                    help="false sharing: writes by two harts within this host time (default 1000)")
    ap.add_argument("--no-report", action="store_true",
                    help="do not run tools/report.py after writing the JSON")
    ap.add_argument("--selftest", action="store_true",
                    help="check the plugin's counts on tools/qprof_selftest.S instead")
    return ap.parse_args()


def plugin_args(opt):
    """The plugin's key=value words for opt (docs/profiling.md, "Raw record")."""
    words = ["top=%d" % max(opt.top, 1), "callgraph=%s" % opt.callgraph, "cache=%s" % opt.cache]
    if opt.cache == "on":
        words += ["cache_size=%d" % opt.cache_size, "cache_ways=%d" % opt.cache_ways,
                  "cache_line=%d" % opt.cache_line, "fs_window_us=%d" % opt.fs_window_us]
    return ",".join(words)


def qemu_command(opt, log):
    """The project's standard QEMU invocation (tools/qemu.py) plus the plugin."""
    plugin = ["-plugin", "%s,%s" % (opt.plugin, plugin_args(opt)), "-d", "plugin", "-D", log]
    return qemu.command(opt.kernel, smp=opt.smp, mem=opt.mem, fw=opt.fw,
                        board=opt.board or None, numa=opt.numa, bootargs=opt.args,
                        extra=plugin)


def run_qemu(cmd, console_path, timeout, verbose):
    """Run QEMU, teeing the console to a file; returns (exit status, timed out)."""
    with open(console_path, "wb") as con:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        os.set_blocking(proc.stdout.fileno(), False)
        deadline = time.monotonic() + timeout
        timed_out = False
        while proc.poll() is None:
            if not timed_out and time.monotonic() > deadline:
                # SIGTERM lets QEMU exit cleanly, so the plugin still reports.
                timed_out = True
                proc.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + 10
            elif timed_out and time.monotonic() > deadline:
                proc.kill()
            pump(proc.stdout, con, verbose)
            time.sleep(0.02)
        pump(proc.stdout, con, verbose)
    return proc.returncode, timed_out


def pump(src, dst, verbose):
    """Copy what the console produced so far."""
    data = src.read()
    if data:
        dst.write(data)
        if verbose:
            sys.stdout.write(data.decode("utf-8", "replace"))
            sys.stdout.flush()


def parse_plugin(path):
    """Parse the plugin record (docs/profiling.md, 'Raw record')."""
    rep = {"vcpus": {}, "funcs": {}, "windows": [], "warn": [], "total": None,
           "functotal": [], "complete": False, "stacks": {}, "cg": {}, "cache": {},
           "cacheconf": None, "share": [], "sharing": None}
    if not os.path.exists(path):
        return rep
    with open(path, errors="replace") as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "vcpu" and len(w) >= 12:
                rep["vcpus"][int(w[1])] = kv(w[2:])
            elif w[0] == "func" and len(w) >= 5:
                rep["funcs"].setdefault(int(w[1]), []).append((int(w[3]), " ".join(w[4:])))
            elif w[0] == "window" and len(w) >= 13:
                rep["windows"].append({"vcpu": int(w[1]), "seq": int(w[2]),
                                       "region": None if w[3] == "-" else int(w[3]),
                                       "role": w[4], **kv(w[5:])})
            elif w[0] == "warn":
                rep["warn"].append(" ".join(w[1:]))
            elif w[0] == "total":
                rep["total"] = kv(w[1:])
            elif w[0] == "functotal" and len(w) >= 4:
                rep["functotal"].append((int(w[2]), " ".join(w[3:])))
            elif w[0] == "stack" and len(w) >= 8:
                rep["stacks"].setdefault(int(w[1]), []).append(
                    (w[7].split(";"), int(w[2]), int(w[3]), int(w[4]), int(w[5]), int(w[6])))
            elif w[0] == "cg" and len(w) >= 4:
                rep["cg"][int(w[1])] = kv(w[2:])
            elif w[0] == "cache" and len(w) >= 10:
                rep["cache"][int(w[1])] = kv(w[2:])
            elif w[0] == "cacheconf":
                rep["cacheconf"] = kv(w[1:])
            elif w[0] == "share" and len(w) >= 12:
                rep["share"].append(dict(kv(w[2:10]), line=w[1],
                                         writers=[] if w[11] == "-" else w[11].split(",")))
            elif w[0] == "sharing":
                rep["sharing"] = kv(w[1:])
            elif w[0] == "qprof" and w[1:2] == ["end"]:
                rep["complete"] = True
    return rep


def kv(words):
    """['insns', '5', 'lr', '0'] -> {'insns': 5, 'lr': 0}"""
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def parse_console(path):
    """Region lines per hart, in order: {hart: [(name, cpu, iters)]}; and KTAP case totals."""
    regions, ok, notok = {}, 0, 0
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for line in text.splitlines():
        m = REGION_RE.search(line)
        if m:
            regions.setdefault(int(m.group(3)), []).append(
                (m.group(1), int(m.group(2)), int(m.group(4))))
        if re.match(r"\s+ok \d+ ", line):        # KTAP cases are indented
            ok += 1
        elif re.match(r"\s+not ok \d+ ", line):
            notok += 1
    return regions, ok, notok


def atomics(c):
    return c["amo"] + c["lr"] + c["sc"]


# Unsymbolised code by region (the plugin's "[nosym@0xBASE]"): on QEMU virt the
# M-mode firmware, OpenSBI, is loaded at 0x80000000 and QEMU's reset code at 0x1000.
NOSYM_NAMES = {"[nosym@0x80000000]": "[OpenSBI@0x80000000]", "[nosym@0x0]": "[reset-rom@0x0]"}


def print_top(funcs, total):
    for rank, (n, name) in enumerate(funcs, 1):
        pct = 100.0 * n / total if total else 0.0
        print("  top %d %6.2f%% %d %s" % (rank, pct, n, NOSYM_NAMES.get(name, name)))


def print_split(c):
    """Firmware (unsymbolised) and kernel instructions, each split into idle (TBs
    holding a wfi), spin (TBs looping on themselves) and work."""
    if "fwwork" not in c:
        return
    total = c["insns"] or 1
    parts = []
    for label, pre in (("firmware", "fw"), ("kernel", "")):
        n = c[pre + "work"] + c[pre + "idle"] + c[pre + "spin"]
        parts.append("%s %d %.2f%% (idle %d spin %d work %d)" % (
            label, n, 100.0 * n / total, c[pre + "idle"], c[pre + "spin"], c[pre + "work"]))
    print("  split " + " ".join(parts))


def region_lines(rep, regions):
    """Join each hart's region windows with its console lines."""
    out = []
    by_key = {}
    for w in rep["windows"]:
        if w["region"] is not None:
            by_key.setdefault((w["vcpu"], w["region"]), {})[w["role"]] = w
    for hart in sorted(set(regions) | {v for v, _ in by_key}):
        lines = regions.get(hart, [])
        nreg = max([r + 1 for v, r in by_key if v == hart] + [len(lines)])
        for r in range(nreg):
            name, iters = (lines[r][0], lines[r][2]) if r < len(lines) else ("#%d" % r, 0)
            out.append(region_line(name, hart, iters, by_key.get((hart, r), {}),
                                   rep["cacheconf"] is not None))
    return out


def region_figures(rep, regions):
    """{name: [(instructions/op, atomics/op)]} for every region with iterations."""
    fig = {}
    by_key = {}
    for w in rep["windows"]:
        if w["region"] is not None:
            by_key.setdefault((w["vcpu"], w["region"]), {})[w["role"]] = w
    for hart, lines in regions.items():
        for r, (name, _cpu, iters) in enumerate(lines):
            wins = by_key.get((hart, r), {})
            cal, mea = wins.get("calib"), wins.get("measure")
            if iters == 0:
                continue
            if cal is None or mea is None:
                fig.setdefault(name, []).append(None)
                continue
            fig.setdefault(name, []).append(((mea["insns"] - cal["insns"]) / iters,
                                             (atomics(mea) - atomics(cal)) / iters))
    return fig


def read_budgets(path):
    """[(region, max instructions/op, max atomics/op, line number)] from a budgets file."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            w = line.split("#", 1)[0].split()
            if not w or w[0].startswith("host:"):  # host figures: tools/host_budgets.py
                continue
            if len(w) != 3:
                raise ValueError("%s:%d: want 'REGION MAX_INSTRUCTIONS MAX_ATOMICS', got %r"
                                 % (path, n, line.strip()))
            out.append((w[0], float(w[1]), float(w[2]), n))
    return out


def suggest_budget(insns, atoms):
    """The margin policy (docs/profiling.md): instructions + 5%, at least + 10,
    rounded up; atomics exactly as measured, rounded up to 0.01."""
    return (math.ceil(max(insns * 1.05, insns + 10)),
            math.ceil(atoms * 100 - 1e-6) / 100)


def check_budgets(path, fig, suggest):
    """Print each figure beside its budget; returns the number of failures."""
    budgets = read_budgets(path)
    passed = failed = 0
    for name, max_i, max_a, _ in budgets:
        got = fig.get(name)
        if not got or None in got or len(got) != 1:
            why = ("missing: no complete measurement" if not got or None in got
                   else "measured %d times" % len(got))
            print("budget %s: FAIL %s (budget %.10g instructions, %.10g atomics)"
                  % (name, why, max_i, max_a))
            failed += 1
            continue
        ins, at = got[0]
        over = [w for w, bad in (("instructions", ins > max_i), ("atomics", at > max_a + 1e-9))
                if bad]
        print("budget %s: %.2f instructions/op (budget %.10g), %.2f atomics/op (budget %.10g): %s"
              % (name, ins, max_i, at, max_a, "FAIL over budget: " + ", ".join(over)
                 if over else "ok"))
        passed, failed = passed + (not over), failed + bool(over)
    known = {b[0] for b in budgets}
    for name in sorted(set(fig) - known):
        print("budget %s: FAIL measured but has no line in %s" % (name, path))
        failed += 1
    if suggest:
        for name in sorted(fig):
            if fig[name] and None not in fig[name]:
                print("suggest %s %d %.2f" % ((name,) + suggest_budget(*fig[name][0])))
    print("check-budgets: %d passed, %d failed" % (passed, failed))
    return failed


def run_budgets(opt):
    """--check-budgets: boot BUDGET_BOOT under the plugin and check every region."""
    for k, v in BUDGET_BOOT.items():
        setattr(opt, k, v)
    opt.callgraph = opt.cache = "off"      # windows only: the budgets need no more
    if opt.outdir == os.path.join(TOP, "build/profile"):
        opt.outdir = os.path.join(TOP, "build/budgets")     # not make profile's files
    try:
        read_budgets(opt.check_budgets)
    except (OSError, ValueError) as e:
        print("profile.py: %s" % e, file=sys.stderr)
        return 2
    rep, regions, status, timed_out = profile_boot(opt)
    print("budgets: boot smp %d mem %s args \"%s\" qemu-exit %d%s; unit: guest instructions "
          "(and AMO+LR+SC) per operation, net of the empty-callback calibration"
          % (opt.smp, opt.mem, opt.args, status, " timeout" if timed_out else ""))
    failed = check_budgets(opt.check_budgets, region_figures(rep, regions), opt.suggest)
    if status != 0 or timed_out or not rep["complete"]:
        print("budget boot: FAIL qemu exit %d%s, plugin report %s (console %s)"
              % (status, " after timeout" if timed_out else "",
                 "complete" if rep["complete"] else "incomplete",
                 os.path.relpath(os.path.join(opt.outdir, "console.log"), TOP)))
        failed += 1
    return 1 if failed else 0


def region_line(name, hart, iters, wins, cache_on=False):
    """One 'region' report line (format in docs/profiling.md)."""
    cal, mea = wins.get("calib"), wins.get("measure")
    if cal is None or mea is None:
        return "region %s: incomplete (hart %d, windows seen: %s)" % (
            name, hart, ",".join(sorted(wins)) or "none")
    if iters == 0:
        return "region %s: 0 iterations (hart %d)" % (name, hart)
    gross = mea["insns"] / iters
    harness = cal["insns"] / iters
    net_at = (atomics(mea) - atomics(cal)) / iters
    cache = ""
    if cache_on:
        cache = "; cache misses %.2f accesses %.2f /op" % (
            (mea["miss"] - cal["miss"]) / iters, (mea["access"] - cal["access"]) / iters)
    return ("region %s: %.2f instructions/op, %.2f atomics/op over %d iterations "
            "(hart %d; gross %.2f, harness %.2f instructions/op; amo %.2f lr %.2f sc %.2f /op%s)"
            % (name, gross - harness, net_at, iters, hart, gross, harness,
               (mea["amo"] - cal["amo"]) / iters, (mea["lr"] - cal["lr"]) / iters,
               (mea["sc"] - cal["sc"]) / iters, cache))


def print_report(opt, rep, regions, status, timed_out, ok, notok, an=None):
    print("== qprof report ==")
    print("unit: guest instructions executed (atomics: AMO + LR + SC), not time; "
          "build: %s (the debug build, MM_DEBUG=1, with its assertions)" % os.path.relpath(opt.kernel, TOP))
    print('kernel %s smp %d mem %s numa %d board %s fw %s args "%s" qemu-exit %d%s' % (
        os.path.relpath(opt.kernel, TOP), opt.smp, opt.mem, opt.numa, opt.board or "-",
        opt.fw, opt.args, status, " timeout" if timed_out else ""))
    if ok or notok:
        print("ktest cases ok %d not-ok %d" % (ok, notok))
    for v in sorted(rep["vcpus"]):
        c = rep["vcpus"][v]
        print("hart %d insns %d atomics %d (amo %d lr %d sc %d)" % (
            v, c["insns"], atomics(c), c["amo"], c["lr"], c["sc"]))
        print_split(c)
        print_top(rep["funcs"].get(v, [])[:opt.top], c["insns"])
    if rep["total"]:
        t = rep["total"]
        print("all insns %d atomics %d (amo %d lr %d sc %d)" % (
            t["insns"], atomics(t), t["amo"], t["lr"], t["sc"]))
        vc = list(rep["vcpus"].values())
        if vc and all("fwwork" in c for c in vc):
            print_split(dict({k: sum(c[k] for c in vc) for k in vc[0]}))
        print_top(rep["functotal"][:opt.top], t["insns"])
    for line in region_lines(rep, regions):
        print(line)
    for w in rep["windows"]:
        if w["region"] is None:
            print("window hart %d #%d: %d instructions, %d atomics (amo %d lr %d sc %d)" % (
                w["vcpu"], w["seq"], w["insns"], atomics(w), w["amo"], w["lr"], w["sc"]))
    if an is not None:
        print_analysis(opt, rep, an)
    for msg in rep["warn"]:
        print("warning plugin vcpu %s" % msg)
    if status != 0 or timed_out:
        print("warning qemu exit status %d%s" % (
            status, " after timeout: stopped with SIGTERM" if timed_out else ""))
    if not rep["complete"]:
        print("warning plugin report missing or incomplete")
    print("== end ==")


# ---------------------------------------------------------------- call graph, layers, JSON

# Allocator layers and their entry functions (docs/profiling.md, "Layers").  A
# function belongs to the first layer whose pattern matches its whole name.  A
# function the compiler inlined has no frame: it counts in its caller's layer
# (the depot trades inside kmem_mag_alloc count as magazine work).
# The stress driver calls every allocator through noinline stress_op_<kind>
# wrappers, so the inlined magazine and per-hart page cache fast paths are
# inside a named frame.
LAYERS = [
    ("magazine", r"stress_op_(cache|kmalloc|kfree)\w*|kmem_cache_alloc_slow|kmem_cache_alloc_node|"
                 r"kmem_cache_free_slow|kmem_alloc_miss|kmem_mag_alloc|kmem_mag_free|"
                 r"kmalloc_common|kmalloc_var|kmalloc_node|kmalloc_large\w*|kzalloc|kfree|"
                 r"kfree_slow|kmem_cross_free|kmem_cross_flush"),
    ("depot", r"kmem_depot_\w+|kmem_get_empty|kmem_mag_fill|kmem_cpu_flush"),
    ("slab", r"kmem_slab_\w+|kmem_node_import|kmem_node_take|kmem_node_put"),
    ("pcp", r"stress_op_page_\w+|pcp_take|pcp_refill|pcp_drain_zone|page_pcp_overflow"),
    ("buddy", r"page_alloc_slow|page_free_slow|buddy_alloc|buddy_free"),
    ("vmem", r"stress_op_vmem_\w+|vmem_alloc|vmem_xalloc|vmem_free|vmem_xfree"),
]
LAYER_RE = [(name, re.compile(r"(?:%s)\Z" % pat)) for name, pat in LAYERS]
# The kernel's level counters (iface9 §C "stress: levels") by layer.
LEVEL_KEYS = {"magazine": "mag", "depot": "depot", "slab": "slab", "pcp": "pcp",
              "buddy": "buddy", "vmem": "vmem"}
STRESS_OP_RE = re.compile(r"stress_op_\w+\Z")
LEVELS_RE = re.compile(r"stress: levels cpu (\d+) node (\d+) (.*)$")
TICK_RE = re.compile(r"stress: t=(\d+) ops/s (\d+) fails (\d+) per-hart(( \d+)*)\s*$")
SEED_RE = re.compile(r"stress: seed (\d+)")
RESULT_RE = re.compile(r"stress: (passed.*|FAILED.*)$")
LOCKROW_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(0x[0-9a-f]+)\s+(.+?)\s*$")


def layer_of(name, cache={}):
    """The layer whose entry functions include name, or None."""
    if name not in cache:
        cache[name] = next((lay for lay, rx in LAYER_RE if rx.match(name)), None)
    return cache[name]


def display_name(name):
    return NOSYM_NAMES.get(name, name)


def fold_frames(frames):
    """Display names of frames, with runs of one unsymbolised name (OpenSBI calling
    itself) folded into one frame."""
    out = []
    for f in frames:
        name = display_name(f)
        if not (out and name == out[-1] and name.startswith("[") and name != "[trap]"):
            out.append(name)
    return out


def folded_lines(stacks):
    """Folded text ("f1;...;fn insns" lines, one per call path with instructions)."""
    merged = {}
    for frames, insns, _at, _acc, _miss, _calls in stacks:
        if insns:
            key = ";".join(fold_frames(frames))
            merged[key] = merged.get(key, 0) + insns
    return sorted("%s %d" % kv_ for kv_ in merged.items())


def function_table(stacks):
    """{name: {"self", "incl", "incl_atomics", "incl_access", "incl_miss", "calls"}} for one
    hart: self counts the path's own instructions, incl every path the function is on (once
    per path, so recursion is not counted twice), calls the entries into it."""
    tab = {}
    for frames, insns, atoms, acc, miss, calls in stacks:
        leaf = frames[-1]
        row = tab.setdefault(leaf, dict.fromkeys(("self", "incl", "incl_atomics", "incl_access",
                                                  "incl_miss", "calls"), 0))
        row["self"] += insns
        row["calls"] += calls
        for f in set(frames):
            r = tab.setdefault(f, dict.fromkeys(row, 0))
            r["incl"] += insns
            r["incl_atomics"] += atoms
            r["incl_access"] += acc
            r["incl_miss"] += miss
    return tab


def layer_costs(stacks):
    """{layer: [incl insns, incl atomics, incl misses, self insns]}: incl counts every path
    with an entry function of the layer on it, self the paths whose innermost layer it is."""
    cost = {lay: [0, 0, 0, 0] for lay, _ in LAYERS}
    for frames, insns, atoms, _acc, miss, _calls in stacks:
        lays = [layer_of(f) for f in frames]
        for lay in set(x for x in lays if x):
            cost[lay][0] += insns
            cost[lay][1] += atoms
            cost[lay][2] += miss
        inner = next((x for x in reversed(lays) if x), None)
        if inner:
            cost[inner][3] += insns
    return cost


SPIN_RE = re.compile(r"spin_\w+|xcall_\w+")    # lock and cross-call wait functions


def spin_callers(stacks):
    """{(caller, waiter): instructions} for one hart: the instructions spent in
    spin_lock_contended (a lock's wait loop) and below it, charged to the first frame
    under the chain of spin_* / xcall_* functions that led there (the code that wanted the
    lock)."""
    out = {}
    for frames, insns, _at, _acc, _miss, _calls in stacks:
        if "spin_lock_contended" not in frames or not insns:
            continue
        i = frames.index("spin_lock_contended")
        while i > 0 and SPIN_RE.match(frames[i - 1]):
            i -= 1
        caller = display_name(frames[i - 1]) if i > 0 else "[base]"
        key = (caller, "spin_lock_contended")
        out[key] = out.get(key, 0) + insns
    return out


def parse_stress(text):
    """The stress run's console lines (iface9 §C): seed, ticks, levels, locks, result."""
    st = {"seed": None, "ticks": [], "levels": {}, "result": None, "locks": []}
    in_lock = False
    for line in text.splitlines():
        m = SEED_RE.search(line)
        if m and st["seed"] is None:
            st["seed"] = int(m.group(1))
        m = TICK_RE.search(line)
        if m:
            st["ticks"].append({"t": int(m.group(1)), "total": int(m.group(2)),
                                "fails": int(m.group(3)),
                                "per_hart": [int(x) for x in m.group(4).split()]})
        m = LEVELS_RE.search(line)
        if m:
            st["levels"][int(m.group(1))] = dict(kv(m.group(3).split()), node=int(m.group(2)))
        m = RESULT_RE.search(line)
        if m:
            st["result"] = m.group(1).strip()
        if "lockstat:" in line and "locks, most contended first" in line:
            in_lock, st["locks"] = True, []
            continue
        m = LOCKROW_RE.match(line) if in_lock else None
        if m:
            st["locks"].append({"name": m.group(8), "addr": m.group(7), "acquires": int(m.group(1)),
                                "contended": int(m.group(2)), "spins": int(m.group(3)),
                                "max_wait": int(m.group(4)), "wait_sum": int(m.group(5)),
                                "rank": int(m.group(6))})
        elif in_lock and not line.lstrip().startswith("acquires"):
            in_lock = False
    return st


def data_symbols(kernel):
    """[(start, end, name)] of the kernel's data objects (nm -S), sorted."""
    try:
        out = subprocess.run(["riscv64-unknown-elf-nm", "-S", "-n", kernel], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    syms = []
    for line in out.decode("utf-8", "replace").splitlines():
        w = line.split()
        if len(w) == 4 and w[2] in "bBdDrRgGsS":
            start = int(w[0], 16)
            syms.append((start, start + max(int(w[1], 16), 1), w[3]))
    return syms


def line_symbol(syms, addr, size=64):
    """The data symbols overlapping line [addr, addr + size), as "sym+off,..." or "(heap)"."""
    names = ["%s+%d" % (n, max(addr - s, 0)) if addr > s else n
             for s, e, n in syms if s < addr + size and e > addr]
    return ",".join(names[:4]) if names else "(heap or stack: no kernel symbol)"


def sharing_rows(rep, syms):
    rows = []
    for sh in rep["share"]:
        kind = ("false" if sh["overlap"] == 0 else
                "true" if sh["overlap"] == sh["events"] else "mixed")
        rows.append({"line": sh["line"], "harts": sh["harts"], "writes": sh["writes"],
                     "events": sh["events"], "overlap": sh["overlap"], "kind": kind,
                     "symbol": line_symbol(syms, int(sh["line"], 16)),
                     "writers": [display_name(w) for w in sh["writers"]]})
    return rows


def hart_rows(rep):
    """work / idle / spin / firmware per hart (a partition of insns: firmware is OpenSBI's
    work; idle and spin include the firmware's)."""
    rows = []
    for v in sorted(rep["vcpus"]):
        c = rep["vcpus"][v]
        rows.append({"cpu": v, "insns": c["insns"], "atomics": atomics(c), "work": c["work"],
                     "idle": c["idle"] + c["fwidle"], "spin": c["spin"] + c["fwspin"],
                     "firmware": c["fwwork"]})
    return rows


def analyse(opt, rep, console_text):
    """Everything the text report and the JSON need, from the plugin record and console."""
    st = parse_stress(console_text)
    tabs = {v: function_table(s) for v, s in rep["stacks"].items()}
    total = {}
    for tab in tabs.values():
        for name, row in tab.items():
            t = total.setdefault(display_name(name), {"self": 0, "incl": 0})
            t["self"] += row["self"]
            t["incl"] += row["incl"]
    funcs = sorted(({"name": n, **r} for n, r in total.items()),
                   key=lambda r: (-r["self"], r["name"]))[:50]
    layers = []
    for v, stacks in sorted(rep["stacks"].items()):
        cost, levels = layer_costs(stacks), st["levels"].get(v)
        for lay, _ in LAYERS:
            ops = levels.get(LEVEL_KEYS[lay], 0) if levels else 0
            i, a, m, own = cost[lay]
            layers.append({"cpu": v, "layer": lay, "ops": ops, "insns": i, "atomics": a,
                           "insns_per_op": round(i / ops, 2) if ops else None,
                           "atomics_per_op": round(a / ops, 3) if ops else None,
                           "self_insns_per_op": round(own / ops, 2) if ops else None,
                           "misses_per_op": round(m / ops, 3) if ops and rep["cache"] else None})
    cache = []
    for v in sorted(rep["cache"]):
        c, tab = rep["cache"][v], tabs.get(v, {})
        ops = sum(r["calls"] for n, r in tab.items() if STRESS_OP_RE.match(n))
        op_miss = sum(r["incl_miss"] for n, r in tab.items() if STRESS_OP_RE.match(n))
        cache.append({"cpu": v, "accesses": c["loads"] + c["stores"],
                      "misses": c["load-misses"] + c["store-misses"], "loads": c["loads"],
                      "coherence_misses": c.get("coherence-misses", 0),
                      "load_misses": c["load-misses"], "stores": c["stores"],
                      "store_misses": c["store-misses"], "ops": ops, "op_misses": op_miss,
                      "misses_per_op": round(op_miss / ops, 3) if ops else None})
    spins = []
    for v, stacks in sorted(rep["stacks"].items()):
        top = sorted(spin_callers(stacks).items(), key=lambda kv_: (-kv_[1], kv_[0]))[:10]
        spins += [{"cpu": v, "caller": c, "insns": n} for (c, _w), n in top]
    return {"stress": st, "tabs": tabs, "functions": funcs, "layers": layers, "cache": cache,
            "spin_callers": spins,
            "sharing": sharing_rows(rep, data_symbols(opt.kernel)), "harts": hart_rows(rep)}


def write_outputs(opt, rep, an):
    """folded-cpu<N>.txt and flame-cpu<N>.svg per hart; returns {"N": svg file name}."""
    import flame  # noqa: E402  (tools/flame.py)
    flames = {}
    for old in os.listdir(opt.outdir):      # a run with more harts left its files here
        if re.match(r"(folded-cpu\d+\.txt|flame-cpu\d+\.svg)\Z", old):
            os.remove(os.path.join(opt.outdir, old))
    for v, stacks in sorted(rep["stacks"].items()):
        lines = folded_lines(stacks)
        with open(os.path.join(opt.outdir, "folded-cpu%d.txt" % v), "w") as f:
            f.write("".join(l + "\n" for l in lines))
        name = "flame-cpu%d.svg" % v
        with open(os.path.join(opt.outdir, name), "w") as f:
            f.write(flame.svg(flame.read_folded(lines), "hart %d: guest instructions (%s)"
                              % (v, opt.args)))
        flames[str(v)] = name
    return flames


def profile_json(opt, an, flames):
    st = an["stress"]
    return {
        "config": {"smp": opt.smp, "mem": opt.mem, "board": opt.board, "numa": opt.numa,
                   "args": opt.args, "cache": opt.cache, "cache_size": opt.cache_size,
                   "cache_ways": opt.cache_ways, "cache_line": opt.cache_line,
                   "fs_window_us": opt.fs_window_us},
        "harts": an["harts"],
        "functions": an["functions"],
        "layers": an["layers"],
        "locks": st["locks"],
        "cache": an["cache"],
        "false_sharing": an["sharing"],
        "spin_callers": an["spin_callers"],
        "stress": {"seed": st["seed"], "ticks": st["ticks"], "result": st["result"],
                   "levels": [dict(cpu=c, **lv) for c, lv in sorted(st["levels"].items())]},
        "flame": flames,
        "text": "profile-text.txt",
    }


def print_analysis(opt, rep, an):
    """The call-graph, layer, lock, cache and sharing sections of the text report."""
    for h in an["harts"]:
        tot = h["insns"] or 1
        print("hart %d work %d idle %d spin %d firmware %d (%.1f%% %.1f%% %.1f%% %.1f%%)" % (
            h["cpu"], h["work"], h["idle"], h["spin"], h["firmware"], 100.0 * h["work"] / tot,
            100.0 * h["idle"] / tot, 100.0 * h["spin"] / tot, 100.0 * h["firmware"] / tot))
        cg = rep["cg"].get(h["cpu"])
        if cg:
            print("  callgraph calls %d rets %d traps %d trapret %d tails %d badret %d "
                  "badtrapret %d maxdepth %d nodes %d" % tuple(cg.get(k, 0) for k in (
                      "calls", "rets", "traps", "trapret", "tails", "badret", "badtrapret",
                      "maxdepth", "nodes")))
        tab = an["tabs"].get(h["cpu"], {})
        for key in ("incl", "self"):
            top = sorted(tab.items(), key=lambda kv_: (-kv_[1][key], kv_[0]))[:opt.top]
            for rank, (name, row) in enumerate(top, 1):
                print("  %s %d %6.2f%% %d %s" % (key, rank, 100.0 * row[key] / tot, row[key],
                                                display_name(name)))
    if an["functions"]:
        print("functions (all harts, by self) rank self incl name")
        for rank, f in enumerate(an["functions"][:opt.top], 1):
            print("  function %d %d %d %s" % (rank, f["self"], f["incl"], f["name"]))
    for lay in an["layers"]:
        if lay["ops"] or lay["insns"]:
            fmt = lambda x: "-" if x is None else "%g" % x  # noqa: E731
            print("layer hart %d %s ops %d insns %d atomics %d insns/op %s atomics/op %s "
                  "self-insns/op %s misses/op %s" % (
                      lay["cpu"], lay["layer"], lay["ops"], lay["insns"], lay["atomics"],
                      fmt(lay["insns_per_op"]), fmt(lay["atomics_per_op"]),
                      fmt(lay["self_insns_per_op"]), fmt(lay["misses_per_op"])))
    for sp in an["spin_callers"]:
        print("spinning hart %d %d insns in spin_lock_contended for %s" % (
            sp["cpu"], sp["insns"], sp["caller"]))
    for lk in an["stress"]["locks"]:
        print("lock %s acquires %d contended %d spins %d max_wait %d wait_sum %d" % (
            lk["name"].replace(" ", "_"), lk["acquires"], lk["contended"], lk["spins"],
            lk["max_wait"], lk["wait_sum"]))
    if rep["cacheconf"]:
        c = rep["cacheconf"]
        print("cache model: %d bytes, %d-way, %d-byte lines, %d sets, LRU, per hart, %s"
              % (c["size"], c["ways"], c["line"], c["sets"],
                 "invalidated by other harts' stores" if c.get("coherence") else "no coherence"))
    for c in an["cache"]:
        print("cache hart %d accesses %d misses %d (%.2f%%) loads %d/%d stores %d/%d "
              "coherence %d stress-ops %d misses/op %s" % (
                  c["cpu"], c["accesses"], c["misses"], 100.0 * c["misses"] / (c["accesses"] or 1),
                  c["load_misses"], c["loads"], c["store_misses"], c["stores"],
                  c["coherence_misses"], c["ops"],
                  "-" if c["misses_per_op"] is None else "%g" % c["misses_per_op"]))
    if rep["sharing"]:
        s = rep["sharing"]
        print("sharing lines %d shown %d dropped-writes %d window %d us" % (
            s["lines"], s["shown"], s["dropped-writes"], s["window-ns"] // 1000))
    for sh in an["sharing"]:
        print("shared %s %s harts %d writes %d events %d overlap %d symbol %s writers %s" % (
            sh["line"], sh["kind"], sh["harts"], sh["writes"], sh["events"], sh["overlap"],
            sh["symbol"], ",".join(sh["writers"]) or "-"))


def run_report_html(path):
    """Run tools/report.py (helper "report") on the JSON if it exists."""
    script = os.path.join(TOP, "tools", "report.py")
    if not os.path.exists(script):
        return 0
    print("profile: running %s %s" % (os.path.relpath(script, TOP), os.path.relpath(path, TOP)),
          flush=True)
    return subprocess.call([sys.executable, script, path])



def selftest_expect(n):
    """Windows hart with parameter n must show, in order, under the default markers
    (with the default cache: 8 ways of 64-byte lines, so lines 4096 bytes apart share a set)."""
    def win(insns, at, region, role, access=0, miss=0):  # None: not checked
        return {"insns": insns, "amo": at, "lr": at, "sc": at, "region": region, "role": role,
                "access": access, "miss": miss}
    return [win(2 * n + 2, 0, 0, "calib"), win(5 * n + 4, n, 0, "measure", 3 * n, None),
            win(5 * (n + 7) + 4, n + 7, None, "raw", 3 * (n + 7), None),
            win(3 + 3 * (5 + 4 * 8), 0, None, "raw", 24, lru_misses[0]),
            win(3 + 3 * (5 + 4 * 9), 0, None, "raw", 27, lru_misses[1]),
            win(11, 0, None, "raw", 3, lru_misses[2]),
            # fs_pingpong: spins, so only its accesses' misses are known (hart 0: see the .S)
            win(None, 0, None, "raw", None, 2 + 2 * 7 if n == 1000 else None)]


def lru_model(ways, runs):
    """Misses of each run (a list of line numbers, all in one set) on an LRU set of ways
    lines, the set carrying over from run to run."""
    resident, out = [], []
    for run in runs:
        miss = 0
        for line in run:
            if line in resident:
                resident.remove(line)
            else:
                miss += 1
                if len(resident) == ways:
                    resident.pop(0)         # least recently used first
            resident.append(line)
        out.append(miss)
    return out


# stride(8, 3), stride(9, 3) and lru_probe in qprof_selftest.S: 8 then 9 lines of one set,
# 3 passes each: 8 misses (cold), then 1 + 9 + 9 (the 9th line evicts the LRU line on every
# access after); then lines 1, 9, 1: 1 miss (LRU keeps the line just used; FIFO would miss 2).
lru_misses = lru_model(8, [list(range(8)) * 3, list(range(9)) * 3, [1, 9, 1]])


# The selftest's call tree (tools/qprof_selftest.S, cg_a): a model of what each
# function does, in order: ("run", n) instructions, ("call", f), ("tail", f)
# (a jump that replaces the frame), ("trap", handler) (an ecall whose handler
# runs on a "[trap]" frame), ("ret",).  The check simulates a shadow stack on it.
CG_MODEL = {
    "cg_a": [("run", 3), ("call", "cg_b"), ("run", 1), ("call", "cg_b"), ("run", 3), ("ret",)],
    "cg_b": [("run", 3), ("call", "cg_c"), ("run", 3), ("ret",)],
    "cg_c": [("run", 2), ("trap", "qst_trap"), ("run", 2), ("tail", "cg_d")],
    "cg_d": [("run", 4), ("tail", "cg_e")],
    "cg_e": [("run", 2), ("ret",)],
    "qst_trap": [("run", 4), ("ret",)],
}


def cg_model_folded(model, root):
    """{path: instructions} the model gives for a call of root."""
    out = {}

    def run(func, path):
        for step in model[func]:
            if step[0] == "run":
                key = ";".join(path)
                out[key] = out.get(key, 0) + step[1]
            elif step[0] == "call":
                run(step[1], path + [step[1]])
            elif step[0] == "trap":
                run(step[1], path + ["[trap]", step[1]])
            elif step[0] == "tail":
                return run(step[1], path[:-1] + [step[1]])
            else:
                return None
    run(root, [root])
    return out


def selftest_cg(rep, hart):
    """Check hart's call graph under cg_a against CG_MODEL; returns a list of problems."""
    want = cg_model_folded(CG_MODEL, "cg_a")
    got = {}
    for frames, insns, _a, _acc, _m, _c in rep["stacks"].get(hart, []):
        if "cg_a" in frames and insns:
            key = ";".join(frames[frames.index("cg_a"):])
            got[key] = got.get(key, 0) + insns
    bad = [] if got == want else ["folded under cg_a: want %s got %s" % (want, got)]
    tab = function_table(rep["stacks"].get(hart, []))
    # inclusive and exclusive by hand from the comment in qprof_selftest.S
    hand = {"cg_a": (7, 47), "cg_b": (12, 40), "cg_c": (8, 16), "qst_trap": (8, 8),
            "cg_d": (8, 8), "cg_e": (4, 4)}
    for f, (self_, incl) in hand.items():
        row = tab.get(f, {"self": None, "incl": None})
        if (row["self"], row["incl"]) != (self_, incl):
            bad.append("%s self/incl want %d/%d got %s/%s" % (f, self_, incl, row["self"],
                                                               row["incl"]))
    return bad


def selftest_sharing(rep, elf):
    """Exactly one false-sharing line: qst_fs, written by both harts, by fs_pingpong."""
    rows = [r for r in sharing_rows(rep, data_symbols(elf)) if r["kind"] == "false"]
    want = [{"symbol": "qst_fs", "harts": 2, "writers": ["fs_pingpong"], "kind": "false"}]
    got = [{k: r[k] for k in want[0]} for r in rows]
    return [] if got == want else ["false sharing want %s got %s" % (want, rows)]


# Console lines in the format of iface9 §C, and what parse_stress must make of them.
STRESS_SAMPLE = """\
stress: seed 42 harts 2 nodes 1 seconds 2 fail_every 0 mix all
stress: t=1 ops/s 300 fails 0 per-hart 100 200
stress: t=2 ops/s 330 fails 1 per-hart 110 220
stress: levels cpu 0 node 0 mag 10 depot 2 slab 3 pcp 4 buddy 5 vmem 6
stress: levels cpu 1 node 0 mag 20 depot 0 slab 0 pcp 0 buddy 1 vmem 2
lockstat: 2 locks, most contended first; waits in rdtime ticks (10000000 Hz)
    acquires  contended        spins     wait-max     wait-total rank lock               name
        500          7          900           40            120    3 0x0000000080241000 zone
         20          0            0            0              0    1 0x0000000080241100 kmem cache x
stress: passed ops 630 seconds 2 ops/s 315
"""


def selftest_parse():
    """parse_stress, the layer table and the JSON keys on STRESS_SAMPLE; returns problems."""
    st = parse_stress(STRESS_SAMPLE)
    bad = []
    want = {"seed": 42, "result": "passed ops 630 seconds 2 ops/s 315",
            "ticks": [{"t": 1, "total": 300, "fails": 0, "per_hart": [100, 200]},
                      {"t": 2, "total": 330, "fails": 1, "per_hart": [110, 220]}],
            "levels": {0: {"mag": 10, "depot": 2, "slab": 3, "pcp": 4, "buddy": 5, "vmem": 6,
                           "node": 0},
                       1: {"mag": 20, "depot": 0, "slab": 0, "pcp": 0, "buddy": 1, "vmem": 2,
                           "node": 0}},
            "locks": [{"name": "zone", "addr": "0x0000000080241000", "acquires": 500, "contended": 7, "spins": 900,
                       "max_wait": 40, "wait_sum": 120, "rank": 3},
                      {"name": "kmem cache x", "addr": "0x0000000080241100", "acquires": 20, "contended": 0, "spins": 0,
                       "max_wait": 0, "wait_sum": 0, "rank": 1}]}
    for k, v in want.items():
        if st[k] != v:
            bad.append("parse_stress %s: want %s got %s" % (k, v, st[k]))
    # one call path per layer on hart 0: an op through the magazine into the slab layer
    rep = {"stacks": {0: [(["stress_op_cache_alloc"], 100, 0, 0, 0, 10),
                          (["stress_op_cache_alloc", "kmem_slab_import"], 30, 3, 0, 0, 3)]},
           "cache": {}, "vcpus": {}, "share": [], "cg": {}}
    opt = argparse.Namespace(kernel="/nonexistent", smp=2, mem="1G", board="", numa=0,
                             args="stress=2", cache="off", cache_size=0, cache_ways=0,
                             cache_line=0, fs_window_us=0)
    an = analyse(opt, rep, STRESS_SAMPLE)
    lay = {(r["cpu"], r["layer"]): r for r in an["layers"]}
    if (lay[(0, "magazine")]["insns_per_op"], lay[(0, "slab")]["insns_per_op"],
            lay[(0, "slab")]["atomics_per_op"], lay[(0, "magazine")]["self_insns_per_op"]) \
            != (13.0, 10.0, 1.0, 10.0):
        bad.append("layers: want magazine 130/10, slab 30/3 and 3/3 atomics, magazine self "
                   "100/10, got %s" % [lay[(0, "magazine")], lay[(0, "slab")]])
    sc = spin_callers([(["a", "zone_walk", "spin_lock", "spin_lock_contended"], 50, 0, 0, 0, 1),
                       (["a", "zone_walk", "spin_lock"], 7, 0, 0, 0, 1),
                       (["b", "spin_lock_contended", "[trap]", "h"], 5, 0, 0, 0, 1)])
    if sc != {("zone_walk", "spin_lock_contended"): 50, ("b", "spin_lock_contended"): 5}:
        bad.append("spin_callers: want zone_walk 50, b 5, got %s" % sc)
    named = {n: layer_of(n) for n in ("vmem_alloc", "vmem_alloc_locked", "kmalloc_init",
                                      "kmem_alloc_miss", "buddy_alloc", "pcp_take")}
    if named != {"vmem_alloc": "vmem", "vmem_alloc_locked": None, "kmalloc_init": None,
                 "kmem_alloc_miss": "magazine", "buddy_alloc": "buddy", "pcp_take": "pcp"}:
        bad.append("layer_of: %s" % named)
    js = profile_json(opt, an, {})
    for key, sub in (("config", ["smp", "mem", "board", "numa", "args"]), ("harts", None),
                     ("functions", None), ("layers", ["cpu", "layer", "ops", "insns_per_op",
                                                      "atomics_per_op"]),
                     ("locks", ["name", "acquires", "contended", "spins", "max_wait",
                                "wait_sum"]), ("cache", None), ("false_sharing", None),
                     ("stress", ["seed", "ticks", "result"]), ("flame", None), ("text", None)):
        if key not in js:
            bad.append("JSON lacks %s" % key)
        elif sub:
            row = js[key][0] if isinstance(js[key], list) else js[key]
            bad += ["JSON %s lacks %s" % (key, k) for k in sub if k not in row]
    return bad


def selftest_flame(rep, hart):
    """The flame SVG of hart's folded stacks parses, and its widths add up."""
    import flame  # noqa: E402
    import xml.etree.ElementTree as ET
    lines = folded_lines(rep["stacks"].get(hart, []))
    stacks = flame.read_folded(lines)
    total = sum(c for _, c in stacks)
    root = ET.fromstring(flame.svg(stacks, "selftest"))
    ns = "{http://www.w3.org/2000/svg}"
    scale = float(root.get("data-scale"))
    bad = []
    base = [g for g in root.iter(ns + "g") if g.get("data-depth") == "0"]
    if sum(int(g.get("data-count")) for g in base) != total or total == 0:
        bad.append("flame: bottom row counts sum to %d, folded total %d"
                   % (sum(int(g.get("data-count")) for g in base), total))
    width = sum(float(g.find(ns + "rect").get("width")) for g in base)
    if abs(width - total * scale) > 1e-3 * max(width, 1):
        bad.append("flame: bottom row is %.3f px wide, want %.3f" % (width, total * scale))
    return bad


def selftest(opt):
    """Build tools/qprof_selftest.S, run it under the plugin, check every window."""
    elf = os.path.join(opt.outdir, "qprof_selftest.elf")
    log = os.path.join(opt.outdir, "qprof_selftest.log")
    subprocess.check_call(["riscv64-unknown-elf-gcc", "-march=rv64imac", "-misa-spec=2.2",
                           "-mabi=lp64", "-nostdlib", "-static", "-Wl,-Ttext=0x80000000",
                           "-Wl,--no-warn-rwx-segments", "-o", elf,
                           os.path.join(TOP, "tools/qprof_selftest.S")])
    passed = failed = 0
    for mode in ([], ["-singlestep"]):
        for markers, fallin in ((",cache=on,fs_window_us=1000000", False),
                                (",begin=prof_begin2,end=prof_end2", True)):
            if os.path.exists(log):
                os.remove(log)
            subprocess.run(["qemu-system-riscv64"] + mode + [
                "-M", "virt", "-smp", "2", "-m", "128M", "-nographic", "-bios", "none",
                "-kernel", elf, "-no-reboot", "-plugin", opt.plugin + markers,
                "-d", "plugin", "-D", log], stdin=subprocess.DEVNULL, timeout=60, check=True)
            rep = parse_plugin(log)
            for hart, n in ((0, 1000), (1, 777)):
                want = ([{"insns": 3 * n + 3, "amo": 0, "lr": 0, "sc": 0, "region": 0,
                          "role": "calib"}] if fallin else selftest_expect(n))
                got = [{k: w[k] for k in want[0]} for w in rep["windows"] if w["vcpu"] == hart]
                got = [{k: (None if want[i][k] is None else v) for k, v in g.items()}
                       if i < len(want) else g for i, g in enumerate(got)]
                ok = got == want and rep["complete"] and not rep["warn"]
                passed, failed = passed + ok, failed + (not ok)
                name = " ".join(mode) or "tb"
                print("%s selftest %s%s hart %d" % ("ok" if ok else "FAIL", name,
                                                   " fall-in marker" if fallin else "", hart))
                if not ok:
                    print("  want %s\n  got  %s warn %s" % (want, got, rep["warn"]))
                if fallin:
                    continue
                for what, bad in (("call graph", selftest_cg(rep, hart)),
                                  ("flame graph", selftest_flame(rep, hart))):
                    passed, failed = passed + (not bad), failed + bool(bad)
                    print("%s selftest %s %s hart %d%s" % ("FAIL" if bad else "ok", name, what,
                                                          hart, "".join("\n  " + b for b in bad)))
            if not fallin:
                bad = selftest_sharing(rep, elf)
                passed, failed = passed + (not bad), failed + bool(bad)
                print("%s selftest %s false sharing%s" % ("FAIL" if bad else "ok", name,
                                                         "".join("\n  " + b for b in bad)))
    for args, msg in ((",bogus=1", "bad argument 'bogus=1'"), (",cache=maybe", "bad argument"),
                      (",cache=on,cache_size=30000", "must be a power of two"),
                      (",fs_lines=1000", "bad argument 'fs_lines=1000'")):
        p = subprocess.run(["qemu-system-riscv64", "-M", "virt", "-nographic", "-bios", "none",
                            "-plugin", opt.plugin + args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        ok = p.returncode != 0 and msg in p.stdout.decode("utf-8", "replace")
        passed, failed = passed + ok, failed + (not ok)
        print("%s selftest plugin refuses%s" % ("ok" if ok else "FAIL", args))
    bad = selftest_parse()
    passed, failed = passed + (not bad), failed + bool(bad)
    print("%s selftest stress console, layers and JSON%s" % ("FAIL" if bad else "ok",
                                                            "".join("\n  " + b for b in bad)))
    try:
        import flame  # noqa: E402
        flame.read_folded(["a;b 3", "a;c x"])
        bad = ["flame.read_folded accepted a line without a count"]
    except ValueError as e:
        bad = [] if "line 2" in str(e) else ["flame.read_folded: unexpected error %s" % e]
    passed, failed = passed + (not bad), failed + bool(bad)
    print("%s selftest flame bad input%s" % ("FAIL" if bad else "ok",
                                            "".join("\n  " + b for b in bad)))
    print("qprof selftest: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def profile_boot(opt):
    """Boot once under the plugin; returns (plugin record, region lines, status, timed out)."""
    os.makedirs(opt.outdir, exist_ok=True)
    log = os.path.join(opt.outdir, "qprof.log")
    console = os.path.join(opt.outdir, "console.log")
    if os.path.exists(log):
        os.remove(log)
    cmd = qemu_command(opt, log)
    print("profile: " + " ".join(cmd), flush=True)
    status, timed_out = run_qemu(cmd, console, opt.timeout, opt.verbose)
    regions, _, _ = parse_console(console)
    return parse_plugin(log), regions, status, timed_out


def main():
    opt = parse_cmdline()
    if opt.selftest:
        os.makedirs(opt.outdir, exist_ok=True)
        return selftest(opt)
    for path in (opt.kernel, opt.plugin):
        if not os.path.exists(path):
            print("profile.py: %s not found (run make)" % path, file=sys.stderr)
            return 2
    if opt.check_budgets:
        return run_budgets(opt)
    rep, regions, status, timed_out = profile_boot(opt)
    log = os.path.join(opt.outdir, "qprof.log")
    console = os.path.join(opt.outdir, "console.log")
    _, ok, notok = parse_console(console)
    if opt.raw and os.path.exists(log):
        with open(log) as f:
            sys.stdout.write(f.read())
    with open(console, "rb") as f:
        an = analyse(opt, rep, f.read().decode("utf-8", "replace"))
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        print_report(opt, rep, regions, status, timed_out, ok, notok, an)
    sys.stdout.write(text.getvalue())
    with open(os.path.join(opt.outdir, "profile-text.txt"), "w") as f:
        f.write(text.getvalue())
    flames = write_outputs(opt, rep, an)
    path = os.path.join(opt.outdir, "profile.json")
    with open(path, "w") as f:
        json.dump(profile_json(opt, an, flames), f, indent=1)
    print("profile: console in %s, plugin record in %s" % (
        os.path.relpath(console), os.path.relpath(log)))
    print("profile: JSON in %s, text in %s, folded stacks and flame graphs %s" % (
        os.path.relpath(path), os.path.relpath(os.path.join(opt.outdir, "profile-text.txt")),
        " ".join(os.path.relpath(os.path.join(opt.outdir, n)) for n in flames.values()) or "-"))
    if not opt.no_report and rep["complete"] and run_report_html(path) != 0:
        print("profile: tools/report.py failed")
        return 1
    return 0 if rep["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
