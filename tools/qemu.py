#!/usr/bin/env python3
"""Boot build/kernel.elf on QEMU virt through OpenSBI.

Used by `make run` (interactive), `make test` (tools/testrun.py imports it)
and the profiling script.  A board (dts/NAME.dts) brings its own QEMU
arguments in dts/NAME.qemu (one argument per whitespace-separated word, `#`
starts a comment); those override --smp/--mem.

  qemu.py --kernel build/kernel.elf --smp 4 --mem 1G [--numa 2] [--board NAME]
          [--fw default|jump] [--dtb FILE] [--args "ktest"] [--interactive]
"""
import argparse
import os
import shlex
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
QEMU = "qemu-system-riscv64"


def parse_size(text):
    """'512M' / '6G' / '1024' (MiB) -> bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper()
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text) << 20


def board_args(board):
    """The QEMU words recorded next to a board's .dts."""
    path = os.path.join(TOP, "dts", board + ".qemu")
    if not os.path.exists(path):
        sys.exit("qemu.py: no dts/%s.qemu (available: %s)" % (board, ", ".join(boards())))
    words = []
    with open(path) as f:
        for line in f:
            words += shlex.split(line.split("#", 1)[0])
    return words


def boards():
    return sorted(f[:-4] for f in os.listdir(os.path.join(TOP, "dts")) if f.endswith(".dts"))


def numa_args(nodes, smp, mem_bytes):
    """Split memory and harts evenly over `nodes` nodes, with a distance map."""
    args, per_mem = [], mem_bytes // nodes
    per_cpu = max(1, smp // nodes)
    for n in range(nodes):
        first = min(n * per_cpu, smp - 1)
        last = smp - 1 if n == nodes - 1 else min(first + per_cpu - 1, smp - 1)
        args += ["-object", "memory-backend-ram,id=m%d,size=%d,reserve=off" % (n, per_mem),
                 "-numa", "node,nodeid=%d,memdev=m%d,cpus=%d-%d" % (n, n, first, last)]
    for a in range(nodes):
        for b in range(nodes):
            if a != b:
                args += ["-numa", "dist,src=%d,dst=%d,val=%d" % (a, b, 20 + 10 * abs(a - b))]
    return args


def command(kernel, smp=4, mem="1G", fw="default", board=None, dtb=None, numa=0,
            bootargs="", extra=()):
    """The full QEMU argument list for one boot."""
    machine = "virt"
    args = [QEMU, "-nographic", "-no-reboot", "-kernel", kernel]
    if board:
        args += board_args(board)
        dtb = dtb or os.path.join(TOP, "build", "dts", board + ".dtb")
    else:
        mem_bytes = parse_size(mem)
        args += ["-smp", str(smp)]
        if numa:
            args += ["-m", str(mem_bytes >> 20) + "M"] + numa_args(numa, smp, mem_bytes)
        elif mem_bytes > (8 << 30):
            args += ["-m", str(mem_bytes >> 20) + "M",
                     "-object", "memory-backend-ram,id=ram,size=%d,reserve=off" % mem_bytes]
            machine += ",memory-backend=ram"
        else:
            args += ["-m", str(mem_bytes >> 20) + "M"]
    args += ["-M", machine, "-bios", FW_JUMP if fw == "jump" else "default"]
    if dtb:
        args += ["-dtb", dtb]
    if bootargs:
        args += ["-append", bootargs]
    return args + list(extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default=os.path.join(TOP, "build", "kernel.elf"))
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--numa", type=int, default=0)
    ap.add_argument("--fw", choices=["default", "jump"], default="default")
    ap.add_argument("--board")
    ap.add_argument("--dtb")
    ap.add_argument("--args", default="")
    ap.add_argument("--interactive", action="store_true")
    ap.add_argument("--print", action="store_true", help="print the command, do not run")
    o = ap.parse_args()
    cmd = command(o.kernel, o.smp, o.mem, o.fw, o.board, o.dtb, o.numa, o.args)
    print("qemu:", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    if o.print:
        return 0
    if o.interactive:
        print("qemu: Ctrl-A X quits QEMU; 'poweroff' at the prompt ends the kernel",
              file=sys.stderr)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
