#!/usr/bin/env python3
"""Check `make gdb` from a script (a host check of tools/testrun.py).

Runs tools/gdb.py in batch mode on -smp 4: a breakpoint on kmain (every boot
reaches it) must be hit after `continue`, `info threads` must list 4 threads
(one per hart, numbered 1.1 to 1.4), `bt` must name kmain, and afterwards
nothing may listen on the stub's port (QEMU was killed).  A request QEMU
cannot run (SMP=0) must be refused with a message before anything starts.
Every run is bounded in time.  Prints 'gdb-check: N passed, N failed'.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gdb  # noqa: E402

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gdb.py")
HARTS = 4
TIMEOUT_S = 240         # the whole batch run, generous for a loaded host


def run(args):
    """Run gdb.py with args; returns (status, stdout + stderr)."""
    try:
        r = subprocess.run([sys.executable, TOOL] + args, capture_output=True, text=True,
                           timeout=TIMEOUT_S + 30)
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or "") + (e.stderr or "")
    return r.returncode, r.stdout + r.stderr


def check_breakpoint_and_threads(checks):
    """A batch session hits kmain and sees one thread per hart; QEMU is gone after."""
    status, out = run(["--smp", str(HARTS), "--batch", "--timeout", str(TIMEOUT_S),
                       "--ex", "break kmain", "--ex", "continue",
                       "--ex", "info threads", "--ex", "bt"])
    port = re.search(r"gdb stub on 127\.0\.0\.1:(\d+)", out)
    threads = set(re.findall(r"^\*?\s+\d+\s+Thread 1\.(\d+) ", out, re.M))
    checks.append(("gdb.py exits 0", status == 0))
    checks.append(("breakpoint on kmain hit", re.search(r"hit Breakpoint 1, kmain \(", out)))
    checks.append(("info threads lists %d harts" % HARTS,
                   threads == set(str(i) for i in range(1, HARTS + 1))))
    checks.append(("backtrace names kmain", re.search(r"^#0\s+kmain \(", out, re.M)))
    checks.append(("QEMU stopped afterwards", port and not gdb.listening(int(port.group(1)))))
    return out


def check_bad_request(checks):
    """SMP=0 is refused with a reason before QEMU or gdb start."""
    status, out = run(["--smp", "0", "--batch", "--ex", "info threads"])
    checks.append(("SMP=0 refused with a message",
                   status != 0 and "SMP=0" in out and "gdb stub on" not in out))


def main():
    checks = []
    out = check_breakpoint_and_threads(checks)
    check_bad_request(checks)
    failed = [name for name, ok in checks if not ok]
    for name, ok in checks:
        print("%s %s" % ("ok  " if ok else "FAIL", name))
    if failed:
        print("--- gdb.py output ---\n" + out)
    print("gdb-check: %d passed, %d failed" % (len(checks) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
