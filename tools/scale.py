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

Each boot's console output goes to build/scale-logs/smpN-MEM.log (the last
boot of a configuration).  --repeat N boots each configuration N times and prints the boot that was
ready first (whole rows, never figures mixed from different boots): on a
shared host the fastest boot is the one least disturbed by other work.

--ceiling boots -smp 256 instead and reports OpenSBI's hart count and which
harts the kernel could not start (the OpenSBI 1.1 128-hart ceiling).
"""
import argparse
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


def boot(kernel, smp, mem, timeout, bootargs="ktest=lib"):
    """Boot once; returns a dict of marks (host seconds), kernel figures and the log."""
    cmd = qemu.command(kernel, smp, mem, bootargs=bootargs)
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
        for name, rx in MARKS.items():
            m = rx.match(line)
            if m and name not in res:
                res[name] = now
                if name == "online":
                    res["harts"] = "%s/%s" % m.groups()
        m = MM_RE.search(line)
        if m:
            res["mm_us"] = int(m.group(3))
            res["pages"] = int(m.group(1))
    res["status"] = p.wait()
    timer.cancel()
    res["total"] = time.monotonic() - t0
    res["timed_out"] = res["total"] >= timeout
    os.makedirs(LOGS, exist_ok=True)
    with open(os.path.join(LOGS, "smp%d-%s.log" % (smp, mem)), "w") as f:
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
    o = ap.parse_args()
    if o.ceiling:
        return ceiling(o.kernel, o.timeout)
    configs = [(int(h), o.hart_mem) for h in o.harts.split(",") if h]
    configs += [(o.mem_harts, m) for m in o.mems.split(",") if m]
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
