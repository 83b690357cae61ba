#!/usr/bin/env python3
"""Boot time and mm init time against harts and memory size (docs/scale.md).

Boots build/kernel.elf with `ktest=lib` (a short suite: the boot is what is
measured) once per configuration and prints one markdown table row each:

  firmware   host seconds from starting QEMU to the kernel's first line
             (QEMU start-up plus OpenSBI on every hart)
  online     host seconds until "N of M harts online" (secondaries started)
  ready      host seconds until "KTAP version 1": boot finished, page
             allocator up, about to run the tests
  total      host seconds until QEMU exited
  mm init    the kernel's own figure: "descriptors for P pages set up by H
             harts in X us" (page descriptors and zones, in parallel)
  load       the host's 1-minute load average when the boot started (this
             2-core host is shared: read the seconds with it)

Memory above 8 GiB uses memory-backend-ram,reserve=off (tools/qemu.py), so a
256 GiB guest costs only the pages the kernel touches.

  scale.py [--harts 1,8,32,64,128] [--mems 1G,4G,16G,64G,256G] [--hart-mem 1G]
           [--mem-harts 8] [--repeat N] [--timeout S] [--ceiling]
           [--stress SECONDS [--boards virt-numa8] [--magazines on,off] [--json FILE]]

Each boot's console output goes to build/scale-logs/smpN-MEM.log (the last
boot of a configuration).  --repeat N boots each configuration N times and prints the boot that was
ready first (whole rows, never figures mixed from different boots): on a
shared host the fastest boot is the one least disturbed by other work.

--ceiling boots -smp 256 instead and reports OpenSBI's hart count and which
harts the kernel could not start (the OpenSBI 1.1 128-hart ceiling).

--stress SECONDS runs `stress=SECONDS` instead of ktest=lib, once with the
object caches' magazines and once without (`kmem_nomagazine`), over the same
harts and memory sweeps plus each --boards board, and prints a second table:

  ops/s      the kernel's "stress: passed ... ops/s R" figure, or, for a run
             that failed, the mean of its "stress: t=" ticks (so the curve
             still shows where it went); per hart = ops/s / online harts
  boot s     host seconds until the "stress: seed" line (boot done)
  run s      host seconds from there to the last stress line
  host cpu s CPU seconds (user + system) QEMU used over the whole boot, all
             its threads: on a shared host the least load-dependent figure
  top lock   the first row of the lockstat table the run printed: name,
             contended acquisitions, longest and total wait in ms
  result     "passed" or the FAILED reason (the console tail of a failed run
             is in its log, build/scale-logs/)

and writes every run to build/scale/scale.json (--json), which the profile
report's scaling section reads (tools/report.py).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

MARKS = {
    "firmware": re.compile(r"^kmem: SMP RISC-V kernel"),
    "online": re.compile(r"^(\d+) of (\d+) harts online"),
    "ready": re.compile(r"^KTAP version 1"),
}
LOGS = os.path.join(qemu.TOP, "build", "scale-logs")     # the last boot of each configuration
MM_RE = re.compile(r"descriptors for (\d+) pages set up by (\d+) harts in (\d+) us")
STRESS_MARKS = {
    "firmware": MARKS["firmware"],
    "online": MARKS["online"],
    "ready": re.compile(r"^stress: seed "),
    "ended": re.compile(r"^stress: (passed|FAILED)"),
}
TICK_RE = re.compile(r"^stress: t=(\d+) ops/s (\d+) ")
PASSED_RE = re.compile(r"^stress: passed ops (\d+) seconds (\d+) ops/s (\d+)")
LOCK_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+0x[0-9a-f]+\s+(\S+)")
LOCK_HZ_RE = re.compile(r"^lockstat: .*rdtime ticks \((\d+) Hz\)")
DEFAULT_JSON = os.path.join(qemu.TOP, "build", "scale", "scale.json")


def boot(kernel, smp, mem, timeout, bootargs="ktest=lib", board=None, marks=MARKS, tag=""):
    """Boot once; returns a dict of marks (host seconds), kernel figures and the log."""
    cmd = qemu.command(kernel, smp, mem, bootargs=bootargs, board=board)
    res = {"smp": smp, "mem": mem, "load": os.getloadavg()[0], "lines": []}
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    for raw in p.stdout:
        line = raw.decode(errors="replace").rstrip("\r\n")
        res["lines"].append(line)
        now = time.monotonic() - t0
        for name, rx in marks.items():
            m = rx.match(line)
            if m and name not in res:
                res[name] = now
                if name == "online":
                    res["harts"] = "%s/%s" % m.groups()
        m = MM_RE.search(line)
        if m:
            res["mm_us"] = int(m.group(3))
            res["pages"] = int(m.group(1))
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = res["status"] = os.waitstatus_to_exitcode(status)
    res["cpu_s"] = usage.ru_utime + usage.ru_stime   # host CPU QEMU used, all threads
    timer.cancel()
    res["total"] = time.monotonic() - t0
    res["timed_out"] = res["total"] >= timeout
    os.makedirs(LOGS, exist_ok=True)
    name = "%s%s" % (board, tag) if board else "smp%d-%s%s" % (smp, mem, tag)
    res["log"] = os.path.join(LOGS, name + ".log")
    with open(res["log"], "w") as f:
        f.write("\n".join(res["lines"]) + "\n")
    return res


def secs(res, key):
    """A mark in seconds, or '-' when the boot never printed it."""
    return "%.1f" % res[key] if key in res else "-"


def row(res):
    """One markdown table row for a boot."""
    mm = "%.1f" % (res["mm_us"] / 1000.0) if "mm_us" in res else "-"
    status = "timeout" if res["timed_out"] else str(res["status"])
    return "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |" % (
        res["smp"], res["mem"], res.get("harts", "-"), res.get("pages", "-"),
        secs(res, "firmware"), secs(res, "online"), secs(res, "ready"), secs(res, "total"),
        mm, status, res["load"])


HEADER = ("| harts | memory | online | pages | firmware s | online s | ready s | total s "
          "| mm init ms | exit | load |\n|---|---|---|---|---|---|---|---|---|---|---|")


def stress_figures(res):
    """Add ops/s, result, run seconds and the top lockstat row to a stress boot."""
    ticks, hz, top = [], 10000000, None
    res["result"] = "no result line"
    for line in res["lines"]:
        m = TICK_RE.match(line)
        if m:
            ticks.append(int(m.group(2)))
        m = LOCK_HZ_RE.match(line)
        if m:
            hz = int(m.group(1))
        m = LOCK_RE.match(line)
        if m and top is None and "lockstat" in "".join(res["lines"]):
            top = {"name": m.group(6), "acquires": int(m.group(1)),
                   "contended": int(m.group(2)), "spins": int(m.group(3)),
                   "max_wait_ms": int(m.group(4)) * 1000.0 / hz,
                   "wait_sum_ms": int(m.group(5)) * 1000.0 / hz}
        if line.startswith("stress: passed") or line.startswith("stress: FAILED"):
            res["result"] = "passed" if line.startswith("stress: passed") else line[8:]
        m = PASSED_RE.match(line)
        if m:
            res["ops_per_s"] = float(m.group(3))
    if "ops_per_s" not in res and ticks:
        res["ops_per_s"] = sum(ticks) / float(len(ticks))
    if res["timed_out"]:
        res["result"] = "timeout after %.0f s (%s)" % (res["total"], res["result"])
    res["ticks"], res["top_lock"] = ticks, top
    if "ready" in res and "ended" in res:
        res["run_s"] = res["ended"] - res["ready"]
    return res


def stress_run(o, smp, mem, board, mag):
    """One stress boot with magazines on or off; returns its figures."""
    args = "stress=%d" % o.stress + ("" if mag else " kmem_nomagazine")
    tag = "-stress" + ("" if mag else "-nomag")
    res = stress_figures(boot(o.kernel, smp, mem, o.timeout, args, board, STRESS_MARKS, tag))
    res["magazines"], res["board"] = mag, board or ""
    res["online_harts"] = int(res["harts"].split("/")[0]) if "harts" in res else None
    return res


def json_run(res):
    """The scale.json record of one stress boot (tools/report.py reads it)."""
    keep = ("smp", "mem", "board", "magazines", "ops_per_s", "result", "load", "mm_us",
            "online_harts", "ticks", "top_lock", "run_s", "total", "log", "cpu_s")
    out = {k: res.get(k) for k in keep}
    out["harts"] = out.pop("smp")
    out["seconds"] = len(res.get("ticks", []))
    out["boot_s"] = res.get("ready")
    out["mm_init_ms"] = res["mm_us"] / 1000.0 if res.get("mm_us") is not None else None
    del out["mm_us"]
    return out


STRESS_HEADER = ("| harts | memory | board | magazines | online | ops/s | ops/s/hart | boot s "
                 "| run s | total s | host cpu s | mm init ms | top lock (contended, max ms, total ms) "
                 "| result | load |\n" + "|---" * 15 + "|")


def stress_row(res):
    """One markdown row of the stress table."""
    ops = res.get("ops_per_s")
    n = res.get("online_harts") or res["smp"]
    lk = res.get("top_lock")
    lock = "%s (%d, %.1f, %.1f)" % (lk["name"], lk["contended"], lk["max_wait_ms"],
                                    lk["wait_sum_ms"]) if lk else "-"
    return "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f | %s | %s | %s | %.1f |" % (
        res["smp"], res["mem"], res["board"] or "-", "on" if res["magazines"] else "off",
        res.get("harts", "-"), "%.0f" % ops if ops is not None else "-",
        "%.0f" % (ops / n) if ops is not None else "-", secs(res, "ready"),
        "%.1f" % res["run_s"] if "run_s" in res else "-", res["total"], res["cpu_s"],
        "%.1f" % (res["mm_us"] / 1000.0) if "mm_us" in res else "-", lock,
        res["result"].replace("|", "/"), res["load"])


def stress_sweep(o, configs):
    """Every configuration with magazines on and off; prints rows, writes the JSON."""
    boards = [b for b in o.boards.split(",") if b]
    mags = [m == "on" for m in o.magazines.split(",") if m]
    runs, bad = [], 0
    print(STRESS_HEADER, flush=True)
    for smp, mem, board in [(s, m, None) for s, m in configs] + [(0, "-", b) for b in boards]:
        for mag in mags:
            res = stress_run(o, smp, mem, board, mag)
            if board:
                res["smp"] = int(res["harts"].split("/")[1]) if "harts" in res else 0
            print(stress_row(res), flush=True)
            runs.append(json_run(res))
            bad += res["result"] != "passed"
            write_json(o.json, o, runs)
    return 1 if bad else 0


def write_json(path, o, runs):
    """build/scale/scale.json: the runs so far and how they were made."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    doc = {"command": " ".join(sys.argv), "stress_seconds": o.stress,
           "hart_sweep_mem": o.hart_mem, "mem_sweep_harts": o.mem_harts,
           "host_cpus": os.cpu_count(), "runs": runs,
           "note": "stress throughput on a %d-core host shared with other work; "
                   "read each row with its load" % os.cpu_count()}
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".tmp", path)


def ceiling(kernel, timeout):
    """Boot -smp 256 and report how many harts OpenSBI manages and which fail to start."""
    res = boot(kernel, 256, "1G", timeout)
    text = "\n".join(res["lines"])
    count = re.search(r"Platform HART Count\s*:\s*(\d+)", text)
    failed = sorted(int(h) for h in re.findall(
        r"smp: hart (\d+)(?: parked in wfi, unused: MAX_CPUS is \d+ \(hart_start failed\)"
        r"|: SBI hart_start failed)", text))
    print("qemu: -smp 256 -m 1G, kernel ktest=lib, exit %s in %.1f s" %
          ("timeout" if res["timed_out"] else res["status"], res["total"]))
    print("OpenSBI Platform HART Count: %s" % (count.group(1) if count else "not printed"))
    print("harts whose SBI hart_start failed: %d%s" % (
        len(failed), " (%d..%d)" % (failed[0], failed[-1]) if failed else ""))
    disabled = sorted(int(h) for h in re.findall(r"\b(\d+)/\d+\(disabled\)", text))
    print("harts the FDT passed on marks disabled: %d%s" % (
        len(disabled), " (%d..%d)" % (disabled[0], disabled[-1]) if disabled else ""))
    print("kernel: %s harts online" % res.get("harts", "?"))
    for line in res["lines"]:
        if "parked beyond MAX_CPUS" in line or "harts online" in line:
            print("  " + line)
    return 0 if count else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default=os.path.join(qemu.TOP, "build", "kernel.elf"))
    ap.add_argument("--harts", default="1,8,32,64,128")
    ap.add_argument("--mems", default="1G,4G,16G,64G,256G")
    ap.add_argument("--hart-mem", default="1G", help="memory for the harts sweep")
    ap.add_argument("--mem-harts", type=int, default=8, help="harts for the memory sweep")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--ceiling", action="store_true")
    ap.add_argument("--stress", type=int, metavar="SECONDS",
                    help="run stress=SECONDS, magazines on and off, instead of ktest=lib")
    ap.add_argument("--boards", default="", help="with --stress: dts/ boards to run too")
    ap.add_argument("--magazines", default="on,off", help="with --stress: on, off or on,off")
    ap.add_argument("--json", default=DEFAULT_JSON, help="with --stress: where to write runs")
    o = ap.parse_args()
    if o.ceiling:
        return ceiling(o.kernel, o.timeout)
    configs = [(int(h), o.hart_mem) for h in o.harts.split(",") if h]
    configs += [(o.mem_harts, m) for m in o.mems.split(",") if m]
    if o.stress:
        return stress_sweep(o, configs)
    print(HEADER)
    bad = 0
    for smp, mem in configs:
        runs = [boot(o.kernel, smp, mem, o.timeout) for _ in range(max(1, o.repeat))]
        res = min(runs, key=lambda r: (r["status"] != 0, r.get("ready", r["total"])))
        print(row(res), flush=True)
        bad += res["status"] != 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
