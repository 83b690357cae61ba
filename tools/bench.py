#!/usr/bin/env python3
"""`make bench`: every benchmark whose numbers are recorded in docs/.

  1. host: build/host/bench_vmem (ns per vmem alloc+free pair, instant fit,
     best fit and an address-ordered first-fit list, 10 / 1,000 / 100,000
     free segments);
  2. in-kernel, under the QEMU plugin: instructions and atomics per
     operation for every region of tests/budgets.txt, measured exactly as
     `make check-budgets` does (same boot, same figures, each beside its
     budget): order-0 page pairs through the per-hart cache and through the
     buddy, the amortised cache bursts, vmem pairs (fragments, mixed, the
     might-fit scan) against first fit, and the object-cache regions (the
     budget boot has 2 NUMA nodes);
  3. page-descriptor initialisation of a 16 GiB guest, 1 hart versus 8 harts
     on 2 NUMA nodes (wall time printed by the kernel, and the plugin's
     instructions in page_init_worker per hart);
  4. object caches (kmem_bench): the regions of suite `kmem_prof` on one
     node (step 2 gives them on two); then, from one -smp 8 boot, alloc+free
     pairs per second per hart on 1, 2, 4 and 8 harts with magazines on and
     off side by side, memory overhead per cache, and total fragmentation
     against power-of-two classes (docs/kmem.md "Measurements").

Numbers depend on the host for wall time; instruction counts do not.
Results and their interpretation: docs/page_alloc.md, docs/vmem.md, docs/kmem.md.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

TOP = qemu.TOP
PROFILE = [sys.executable, os.path.join(TOP, "tools", "profile.py")]


def section(title):
    print("\n== %s ==" % title, flush=True)


def host_vmem():
    section("host: vmem pair cost (build/host/bench_vmem)")
    return subprocess.call([os.path.join(TOP, "build", "host", "bench_vmem")])


def kernel_regions():
    section("in-kernel: instructions per operation (make check-budgets)")
    out = subprocess.run(PROFILE + ["--check-budgets", os.path.join(TOP, "tests", "budgets.txt")],
                         capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith(("budget", "check-budgets"))]
    print("\n".join(lines))
    return 0 if lines and out.returncode == 0 else 1


def page_init(smp, numa):
    """Boot a 16 GiB guest; return the kernel's page-init line and per-hart instructions."""
    args = ["--smp", str(smp), "--mem", "16G", "--args", "ktest=lib"]
    if numa:
        args += ["--numa", str(numa)]
    out = subprocess.run(PROFILE + args + ["--top", "40"], capture_output=True, text=True)
    console = os.path.join(TOP, "build", "profile", "console.log")
    text = open(console, errors="replace").read() if os.path.exists(console) else ""
    m = re.search(r"^page: .*$", text, re.M)
    log = os.path.join(TOP, "build", "profile", "qprof.log")
    per_hart = {}
    if os.path.exists(log):
        for line in open(log):
            f = line.split()
            # raw record: "func VCPU RANK INSNS SYMBOL" (docs/profiling.md)
            if len(f) == 5 and f[0] == "func" and f[4] == "page_init_worker":
                per_hart[f[1]] = int(f[3])
    return (m.group(0) if m else "page: (no line; see build/profile)"), per_hart


def descriptor_init():
    section("in-kernel: page descriptor initialisation, 16 GiB guest")
    for smp, numa in ((1, 0), (8, 2)):
        line, per_hart = page_init(smp, numa)
        most = max(per_hart.values()) if per_hart else 0
        print("%d hart(s), %s: %s; page_init_worker instructions, busiest hart: %d (%d harts)"
              % (smp, "%d nodes" % numa if numa else "1 node", line, most, len(per_hart)))
    return 0


KMEM_REGIONS = ("kmem_magazine_pair", "kmem_nomagazine_pair", "kmem_depot_pair",
                "kmalloc_pair_64", "kmalloc_pair_4096", "kmalloc_pair_var", "vmem_qcache_pair")


def kmem_bench():
    """Issue 8 measurements: the object-cache regions on one node (the budget
    boot above gives them on two), then rates, overhead and fragmentation
    from one plain -smp 8 boot."""
    section("in-kernel: object-cache regions on 1 node (QEMU plugin, -smp 4 -m 1G, "
            "the budget boot's suites)")
    out = subprocess.run(PROFILE + ["--smp", "4", "--mem", "1G",
                                    "--args", "ktest=prof,page,vmem,kmem_prof"],
                         capture_output=True, text=True)
    regions = [l for l in out.stdout.splitlines()
               if l.startswith("region ") and l.split()[1].rstrip(":") in KMEM_REGIONS]
    print("\n".join(regions))
    section("in-kernel: object caches, -smp 8 -m 1G, one boot (ktest=kmem)")
    print("host: %d cores; 8 vCPUs share them, so per-hart rates above 2 harts "
          "measure the host as much as the allocator" % (os.cpu_count() or 0))
    cmd = qemu.command(os.path.join(TOP, "build", "kernel.elf"), smp=8, mem="1G",
                       bootargs="ktest=kmem")
    boot = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=600)
    lines = boot.stdout.splitlines()
    rates = {}
    for l in lines:
        m = re.match(r"kmem_rate: harts (\d+) magazines (\S+) pairs/s/hart (\d+)", l)
        if m:
            rates[(int(m.group(1)), m.group(2))] = int(m.group(3))
    print("%6s %22s %22s %8s" % ("harts", "magazines on (pairs/s)", "magazines off", "ratio"))
    for n in (1, 2, 4, 8):
        on, off = rates.get((n, "on"), 0), rates.get((n, "off"), 0)
        print("%6d %22d %22d %8.1f" % (n, on, off, on / off if off else 0))
    print("\n".join(l for l in lines if l.startswith(("kmem_overhead:", "kmem_frag:"))))
    ok = len(regions) == len(KMEM_REGIONS) and len(rates) == 8 and boot.returncode == 0
    return 0 if ok else 1


def main():
    failed = 0
    for step in (host_vmem, kernel_regions, descriptor_init, kmem_bench):
        failed += step() != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
