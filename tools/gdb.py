#!/usr/bin/env python3
"""Boot the kernel on QEMU halted under a gdb stub and attach gdb-multiarch.

`make gdb` runs this with the words `make run` takes (SMP MEM NUMA BOARD FW
ARGS).  QEMU starts with -S (every hart halted at the reset vector) and its
gdb stub listening on a free TCP port of 127.0.0.1 only; gdb-multiarch loads
build/kernel.elf's symbols and connects.  QEMU's stub shows each hart as one
thread (`info threads`; `thread N` switches).  The kernel's console goes to
a file (build/gdb-console.log, or --console), because gdb owns the terminal;
`tail -f` it from another terminal.  When gdb exits, QEMU is killed.

QEMU runs in its own session, so Ctrl-C at the gdb prompt interrupts the
guest (gdb's meaning) and does not kill QEMU.

  gdb.py [--smp N] [--mem SIZE] [--numa N] [--board NAME] [--fw F] [--args A]
         [--ex CMD]... [--batch] [--timeout S] [--console FILE]

--ex and --batch pass gdb commands to run after attaching (tools/gdb_check.py
uses them); --timeout bounds a batch run.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

GDB = "gdb-multiarch"
LISTEN_WAIT_S = 30      # QEMU must be listening within this (a loaded host is slow)


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True once some socket listens on 127.0.0.1:port (read from /proc, so
    QEMU's stub never sees a stray connection)."""
    want = "0100007F:%04X" % port
    for table in ("/proc/net/tcp",):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":
                    return True
    return False


def start_qemu(cmd, console):
    """Start QEMU halted with its stub on a free port; returns (process, port).
    Another program may take the port between our probe and QEMU's bind:
    then QEMU exits at once and we try another port."""
    for _ in range(5):
        port = free_port()
        full = cmd + ["-S", "-gdb", "tcp:127.0.0.1:%d" % port,
                      "-serial", "file:" + console, "-monitor", "none"]
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + LISTEN_WAIT_S
        while p.poll() is None and time.time() < deadline:
            if listening(port):
                return p, port
            time.sleep(0.05)
        err = p.stderr.read().decode(errors="replace") if p.poll() is not None else ""
        stop_qemu(p)
        if "bind" not in err and "in use" not in err:
            raise SystemExit("gdb.py: QEMU did not start its gdb stub: %s" %
                             (err.strip() or "no listener after %d s" % LISTEN_WAIT_S))
    raise SystemExit("gdb.py: no free port for the gdb stub after 5 tries")


def stop_qemu(p):
    """Kill QEMU (its whole session) and reap it."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()


def gdb_command(kernel, port, ex, batch):
    """gdb-multiarch's argument list: symbols, the target, then the user's commands."""
    args = [GDB, "-q"] + (["-nx", "-batch"] if batch else [])
    for c in ("set pagination off", "set confirm off", "set architecture riscv:rv64",
              "file " + kernel, "target remote 127.0.0.1:%d" % port):
        args += ["-ex", c]
    for c in ex:
        args += ["-ex", c]
    return args


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default=os.path.join(qemu.TOP, "build", "kernel.elf"))
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--numa", type=int, default=0)
    ap.add_argument("--fw", choices=["default", "jump"], default="default")
    ap.add_argument("--board")
    ap.add_argument("--args", default="")
    ap.add_argument("--ex", action="append", default=[], help="a gdb command to run")
    ap.add_argument("--batch", action="store_true", help="run the --ex commands and exit")
    ap.add_argument("--timeout", type=float, default=0, help="seconds (batch runs)")
    ap.add_argument("--console", default=os.path.join(qemu.TOP, "build", "gdb-console.log"))
    o = ap.parse_args()
    if shutil.which(GDB) is None:
        raise SystemExit("gdb.py: %s not found (tools/deps.sh installs it)" % GDB)
    cmd = qemu.command(o.kernel, o.smp, o.mem, o.fw, o.board, None, o.numa, o.args)
    os.makedirs(os.path.dirname(os.path.abspath(o.console)), exist_ok=True)
    p, port = start_qemu(cmd, o.console)
    print("gdb.py: QEMU halted, gdb stub on 127.0.0.1:%d, console in %s" % (port, o.console),
          file=sys.stderr)
    try:
        g = subprocess.Popen(gdb_command(o.kernel, port, o.ex, o.batch))
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is gdb's
        try:
            return g.wait(timeout=o.timeout or None)
        except subprocess.TimeoutExpired:
            g.kill()
            g.wait()
            print("gdb.py: gdb still running after %.0f s: killed" % o.timeout, file=sys.stderr)
            return 124
        finally:
            signal.signal(signal.SIGINT, old)
    finally:
        stop_qemu(p)


if __name__ == "__main__":
    sys.exit(main())
