#!/usr/bin/env python3
"""Boot the kernel under the qprof QEMU plugin and print its report.

    tools/profile.py [--smp N] [--mem SIZE] [--numa N] [--board NAME] [--fw default|jump]
                     [--args "ktest"] [--top N] [--timeout S] [--raw] [-v]
    tools/profile.py --selftest
    tools/profile.py --check-budgets tests/budgets.txt [--suggest]

The plugin (tools/qprof.c, built as build/host/libqprof.so) writes a
line-oriented record to build/profile/qprof.log; the kernel console goes to
build/profile/console.log.  This script joins the two: the kernel's
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
    ap.add_argument("--selftest", action="store_true",
                    help="check the plugin's counts on tools/qprof_selftest.S instead")
    return ap.parse_args()


def qemu_command(opt, log):
    """The project's standard QEMU invocation (tools/qemu.py) plus the plugin."""
    plugin = ["-plugin", "%s,top=%d" % (opt.plugin, max(opt.top, 1)), "-d", "plugin", "-D", log]
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
           "functotal": [], "complete": False}
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
            out.append(region_line(name, hart, iters, by_key.get((hart, r), {})))
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
            if not w:
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


def region_line(name, hart, iters, wins):
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
    return ("region %s: %.2f instructions/op, %.2f atomics/op over %d iterations "
            "(hart %d; gross %.2f, harness %.2f instructions/op; amo %.2f lr %.2f sc %.2f /op)"
            % (name, gross - harness, net_at, iters, hart, gross, harness,
               (mea["amo"] - cal["amo"]) / iters, (mea["lr"] - cal["lr"]) / iters,
               (mea["sc"] - cal["sc"]) / iters))


def print_report(opt, rep, regions, status, timed_out, ok, notok):
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
    for msg in rep["warn"]:
        print("warning plugin vcpu %s" % msg)
    if status != 0 or timed_out:
        print("warning qemu exit status %d%s" % (
            status, " after timeout: stopped with SIGTERM" if timed_out else ""))
    if not rep["complete"]:
        print("warning plugin report missing or incomplete")
    print("== end ==")


def selftest_expect(n):
    """Windows hart with parameter n must show, in order, under the default markers."""
    def win(insns, at, region, role):
        return {"insns": insns, "amo": at, "lr": at, "sc": at, "region": region, "role": role}
    return [win(2 * n + 2, 0, 0, "calib"), win(5 * n + 4, n, 0, "measure"),
            win(5 * (n + 7) + 4, n + 7, None, "raw")]


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
        for markers, fallin in (("", False), (",begin=prof_begin2,end=prof_end2", True)):
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
                ok = got == want and rep["complete"] and not rep["warn"]
                passed, failed = passed + ok, failed + (not ok)
                print("%s selftest %s%s hart %d" % ("ok" if ok else "FAIL", " ".join(mode) or "tb",
                                                   " fall-in marker" if fallin else "", hart))
                if not ok:
                    print("  want %s\n  got  %s warn %s" % (want, got, rep["warn"]))
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
    print_report(opt, rep, regions, status, timed_out, ok, notok)
    print("profile: console in %s, plugin record in %s" % (
        os.path.relpath(console), os.path.relpath(log)))
    return 0 if rep["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
