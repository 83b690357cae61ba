#!/usr/bin/env python3
"""Host check for tools/qemu.py's argument handling (run by `make test`).

Bad requests must be refused before QEMU starts: exit status 2, a message
naming the problem, no Python traceback, no QEMU command.  Good requests
(--dry-run) must print a command whose NUMA layout is consistent when read
back independently (node memory adds up to -m, node harts partition
0..SMP-1) and that QEMU itself accepts: the command is rerun with
`-M virt,dumpdtb=FILE`, which builds the machine and exits without booting.
Prints 'qemu-args: N passed, N failed'.
"""
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_PY = [sys.executable, os.path.join(TOP, "tools", "qemu.py"), "--dry-run"]

# (arguments, text the refusal must contain)
BAD = [
    (["--numa", "2", "--smp", "1"], "NUMA=2 needs at least 2 harts"),
    (["--numa", "3", "--smp", "3"], "needs SMP >= 4"),
    (["--numa", "4", "--smp", "6"], "needs SMP >= 8"),
    (["--mem", "abc"], "MEM=abc is not a size"),
    (["--mem", "1.5K"], "whole number of MiB"),
    (["--mem", "0"], "positive whole number"),
    (["--smp", "0"], "SMP=0"),
    (["--smp", "513"], "1 to 512 harts"),
    (["--numa", "-1"], "NUMA=-1"),
    (["--numa", "5", "--smp", "16"], "NUMA=5"),
    (["--numa", "2", "--smp", "2", "--mem", "1M"], "at least 2 MiB"),
    (["--numa", "2", "--board", "virt-numa2"], "BOARD=virt-numa2"),
]

# (smp, mem, numa): the cases and the shapes the matrix uses
GOOD = [
    (4, "1G", 0), (1, "128M", 0), (4, "10G", 0), (2, "1G", 2), (3, "3G", 2), (4, "2G", 2),
    (4, "1G", 3), (5, "1G", 3), (8, "2G", 4), (64, "4G", 4),
]


def refused(args, text):
    """The request is refused with `text` and nothing else goes wrong."""
    p = subprocess.run(QEMU_PY + args, capture_output=True, text=True)
    out = p.stdout + p.stderr
    problems = []
    if p.returncode != 2:
        problems.append("exit status %d, expected 2" % p.returncode)
    if text not in out:
        problems.append("message lacks %r" % text)
    if "Traceback" in out or "qemu: " in out:
        problems.append("traceback or QEMU command printed")
    return problems, out.strip()


def layout_problems(cmd, smp):
    """Read the NUMA layout back from the QEMU words and check it adds up."""
    m = re.search(r"-m (\d+)M", cmd)
    sizes = [int(x) for x in re.findall(r"memory-backend-ram,id=m\d+,size=(\d+)M", cmd)]
    cpus = [(int(a), int(b)) for a, b in re.findall(r"cpus=(\d+)-(\d+)", cmd)]
    harts = sorted(h for a, b in cpus for h in range(a, b + 1))
    problems = []
    if not m or sum(sizes) != int(m.group(1)):
        problems.append("node memory %s does not add up to -m" % sizes)
    if harts != list(range(smp)):
        problems.append("node harts %s do not partition 0..%d" % (cpus, smp - 1))
    return problems


def accepted(smp, mem, numa, dtb):
    """The dry run prints a command that adds up and that QEMU accepts."""
    args = ["--smp", str(smp), "--mem", mem] + (["--numa", str(numa)] if numa else [])
    p = subprocess.run(QEMU_PY + args, capture_output=True, text=True)
    if p.returncode != 0 or not p.stderr.startswith("qemu: "):
        return ["dry run failed: %s" % p.stderr.strip()], ""
    cmd = p.stderr[len("qemu: "):].strip()
    problems = layout_problems(cmd, smp) if numa else []
    words = cmd.split()
    words[words.index("-M") + 1] += ",dumpdtb=" + dtb
    q = subprocess.run(words, capture_output=True, text=True, timeout=60)
    if q.returncode != 0:
        problems.append("QEMU refused it: %s" % q.stderr.strip().splitlines()[-1:])
    return problems, cmd


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        cases = [("refuse " + " ".join(a), lambda a=a, t=t: refused(a, t)) for a, t in BAD]
        cases += [("accept SMP=%d MEM=%s NUMA=%d" % g,
                   lambda g=g: accepted(*g, os.path.join(d, "x.dtb"))) for g in GOOD]
        for name, fn in cases:
            problems, detail = fn()
            if problems:
                failed += 1
                print("FAIL %s: %s\n    %s" % (name, "; ".join(problems), detail))
            else:
                passed += 1
                print("ok   %s" % name)
    print("qemu-args: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
