#!/usr/bin/env python3
"""Boot build/kernel.elf on QEMU virt through OpenSBI.

Used by `make run` (interactive), `make test` (tools/testrun.py imports it)
and the profiling script.  A board (dts/NAME.dts) brings its own QEMU
arguments in dts/NAME.qemu (one argument per whitespace-separated word, `#`
starts a comment); those override --smp/--mem.

  qemu.py --kernel build/kernel.elf --smp 4 --mem 1G [--numa 2] [--board NAME]
          [--fw default|jump] [--dtb FILE] [--args "ktest"] [--interactive]
          [--dry-run]

Impossible requests are refused before QEMU starts, with the reason (exit
status 2): a size that is not a size, SMP outside 1..512, NUMA below 0 or
above 4, NUMA with a board, and NUMA node counts QEMU 7.2's virt machine
cannot build (see numa_split).  --dry-run prints the QEMU command and stops.
Input piped into an interactive run is held back until the kernel's first
prompt (see run_piped).
"""
import argparse
import os
import shlex
import subprocess
import sys
import threading

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
QEMU = "qemu-system-riscv64"
SMP_MAX = 512           # QEMU virt: "max CPUs supported by machine 'virt' is 512"
NUMA_MAX = 4            # QEMU 7.2 virt: at most 4 sockets, and one socket per node
PROMPT = b"kmem> "      # kernel/console.c CON_PROMPT


class BadRequest(SystemExit):
    """A request QEMU would refuse or that makes no sense; the text says why.
    A SystemExit, so a script that imports command() (profile.py, testrun.py)
    stops with the reason instead of a traceback."""

    def __init__(self, why):
        super().__init__("qemu.py: " + why)
        self.why = why

    def __str__(self):
        return self.why


def parse_size(text):
    """'512M' / '6G' / '1024' (MiB) -> bytes; BadRequest unless a whole, positive
    number of MiB (QEMU's -m and our node split count in MiB)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = str(text).strip().upper()
    try:
        n = int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t) << 20
    except ValueError:
        raise BadRequest("MEM=%s is not a size: write a number of MiB or one with a "
                         "K/M/G/T suffix, e.g. MEM=512M or MEM=2G" % text) from None
    if n <= 0 or n % (1 << 20):
        raise BadRequest("MEM=%s: the memory must be a positive whole number of MiB" % text)
    return n


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


def numa_split(nodes, smp):
    """Harts per node, as even as QEMU 7.2's virt machine allows.

    That QEMU wires each socket's interrupt controller correctly only when
    the socket's first hart id is at most its hart count: node i needs at
    least as many harts as nodes 0..i-1 together.  So the last node takes
    half the harts (rounded up), the node before it half the rest, and so on;
    node 0 takes what remains.  Possible only when smp >= 2 ** (nodes - 1)."""
    if nodes > smp:
        raise BadRequest("NUMA=%d needs at least %d harts, SMP=%d: QEMU gives every node "
                         "at least one hart" % (nodes, nodes, smp))
    if smp < 1 << (nodes - 1):
        raise BadRequest("NUMA=%d needs SMP >= %d, SMP=%d: QEMU 7.2's virt machine needs "
                         "each node to have at least as many harts as the nodes before it "
                         "together (1, 1, 2, 4, ...)" % (nodes, 1 << (nodes - 1), smp))
    split, rest = [], smp
    for left in range(nodes, 1, -1):
        split.insert(0, (rest + 1) // 2)
        rest -= split[0]
    return [rest] + split


def numa_args(nodes, smp, mem_bytes):
    """Memory split evenly over `nodes` nodes in whole MiB (node 0 takes the
    remainder, so the nodes add up to the RAM size), harts by numa_split,
    and a distance map in both directions."""
    mib = mem_bytes >> 20
    if mib < nodes:
        raise BadRequest("NUMA=%d needs at least %d MiB, MEM=%dM: every node gets at least "
                         "1 MiB" % (nodes, nodes, mib))
    mems = [mib // nodes] * nodes
    mems[0] += mib - sum(mems)
    args, first = [], 0
    for n, count in enumerate(numa_split(nodes, smp)):
        args += ["-object", "memory-backend-ram,id=m%d,size=%dM,reserve=off" % (n, mems[n]),
                 "-numa", "node,nodeid=%d,memdev=m%d,cpus=%d-%d"
                 % (n, n, first, first + count - 1)]
        first += count
    for a in range(nodes):
        for b in range(nodes):
            if a != b:
                args += ["-numa", "dist,src=%d,dst=%d,val=%d" % (a, b, 20 + 10 * abs(a - b))]
    return args


def check_request(smp, numa, board):
    """Refuse SMP, NUMA and BOARD combinations that cannot work (BadRequest)."""
    if board and numa:
        raise BadRequest("NUMA=%d with BOARD=%s: a board's dts/%s.qemu sets its own harts, "
                         "memory and nodes; drop NUMA" % (numa, board, board))
    if board:
        return
    if not 1 <= smp <= SMP_MAX:
        raise BadRequest("SMP=%d: QEMU virt runs 1 to %d harts" % (smp, SMP_MAX))
    if not 0 <= numa <= NUMA_MAX:
        raise BadRequest("NUMA=%d: give 0 (no NUMA) or 1 to %d nodes (QEMU virt's most)"
                         % (numa, NUMA_MAX))


def command(kernel, smp=4, mem="1G", fw="default", board=None, dtb=None, numa=0,
            bootargs="", extra=()):
    """The full QEMU argument list for one boot."""
    machine = "virt"
    check_request(smp, numa, board)
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


def run_piped(cmd):
    """Run QEMU with our piped standard input held back until the kernel's
    first prompt, then copied through.  OpenSBI's UART set-up reads and drops
    a byte already waiting in the receive register, so input handed to QEMU
    from the start lost its first byte (`printf 'harts\\n' | make run` ran
    `arts`)."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    prompted = threading.Event()

    def feed():
        prompted.wait()
        try:
            for chunk in iter(lambda: os.read(sys.stdin.fileno(), 4096), b""):
                p.stdin.write(chunk)
                p.stdin.flush()
            p.stdin.close()
        except (BrokenPipeError, ValueError):
            pass                # QEMU has exited

    threading.Thread(target=feed, daemon=True).start()
    tail = b""
    for chunk in iter(lambda: p.stdout.read1(4096), b""):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        tail = (tail + chunk)[-2 * len(PROMPT):]
        if PROMPT in tail:
            prompted.set()
    return p.wait()


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
    ap.add_argument("--dry-run", "--print", dest="dry_run", action="store_true",
                    help="check the request, print the QEMU command, do not run it")
    o = ap.parse_args()
    try:
        cmd = command(o.kernel, o.smp, o.mem, o.fw, o.board, o.dtb, o.numa, o.args)
    except BadRequest as e:
        print("qemu.py: %s" % e, file=sys.stderr)
        return 2
    print("qemu:", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    if o.dry_run:
        return 0
    if o.interactive:
        print("qemu: Ctrl-A X quits QEMU; 'poweroff' at the prompt ends the kernel",
              file=sys.stderr)
        if sys.stdin is not None and not sys.stdin.isatty():
            return run_piped(cmd)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
