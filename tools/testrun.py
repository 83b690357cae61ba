#!/usr/bin/env python3
"""The test runner behind `make test`.

Runs, in order:
  1. every host unit test program (build/host/tests/test_*, cmocka),
  2. the host checks listed in HOST_CHECKS (scripts that print their own
     'N passed, N failed' line),
  3. the QEMU boot matrix: build/kernel.elf booted with `ktest` on every
     configuration in boot_matrix(), each with a timeout; the KTAP output is
     parsed and every case counted, and the zones the kernel printed are
     checked against tools/fdtcheck.py's independent reading of the same
     blob (less what the kernel and OpenSBI reserved on top of it),
  4. the bad-input boots (a DTB without memory, a DTB listing harts that do
     not exist, DTBs describing impossible machines, an unknown command-line
     word), each with its expected outcome,
and ends with one line 'N passed, N failed, N skipped'.  One "passed" is one
test case: a host cmocka case, a case of a host check script (a region of
tests/budgets.txt, a blob of the fdtinfo corpus, ...), an in-kernel KTAP
case, or a boot itself (all of that boot's own checks: exit status, expected
output, zones, no panic, harts online; any of them failing fails that one
case).  Exit status 1 on
any failure, crash, timeout or missing result.  Full logs go to
build/test-logs/.

  testrun.py [--only host|boot] [--filter SUBSTR] [-j JOBS] [--list]
  testrun.py --big        make test-big: full ktest at -smp 64 / 64 GiB and
                          -smp 128 / 256 GiB, 4 NUMA nodes, 300 s each
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402

TOP = qemu.TOP
BUILD = os.path.join(TOP, "build")
LOGS = os.path.join(BUILD, "test-logs")
KERNEL = os.path.join(BUILD, "kernel.elf")
BOOT_TIMEOUT = 240          # seconds per boot (the slowest, -smp 8, takes far less)
HOST_TIMEOUT = 600          # seconds per host test program

# Host-side checks that are scripts rather than cmocka programs:
# (name, command).  Each must print a 'N passed, N failed' line.
HOST_CHECKS = [
    ("fdtinfo-corpus", ["bash", "-c", "tools/dtbcorpus.sh && "
                        "python3 tools/fdtcheck.py --corpus build/dtb-corpus"]),
    ("qprof-selftest", [sys.executable, os.path.join(TOP, "tools", "profile.py"), "--selftest"]),
    ("mm-env-min", ["make", "-s", "mm-env-check"]),
    ("qemu-args", [sys.executable, os.path.join(TOP, "tools", "check_qemu_args.py")]),
    # make check-budgets: one case per region of tests/budgets.txt (deterministic counts)
    ("budgets", [sys.executable, os.path.join(TOP, "tools", "profile.py"),
                 "--check-budgets", os.path.join(TOP, "tests", "budgets.txt")]),
    # tests/budgets.txt's host: lines: libkmem's instructions per operation
    # (valgrind), the malloc race's count of docs/malloc_race.md
    ("host-budgets", ["bash", "-c", "make -s host-tools mbench && %s tools/host_budgets.py"
                      % sys.executable]),
    ("gdb", [sys.executable, os.path.join(TOP, "tools", "gdb_check.py")]),
    # the profile report page (the fixture's and a short profiled stress run's)
    # rendered by headless chromium: its numbers equal report.txt's and the
    # JSON's, it is not blank, bad input is refused
    ("report", [sys.executable, os.path.join(TOP, "tools", "report_check.py"), "--real"]),
    # The malloc race's smoke check (issue 10): every build/host/mbench-* under
    # every allocator at a tiny count passes its own data checks, and fails
    # under the deliberately broken control allocator.
    ("malloc-bench", ["bash", "-c", "make -s mbench && %s tools/bench_malloc.py --smoke"
                      % sys.executable]),
    # libkmem (docs/libkmem.md): torture, bad frees, real programs under LD_PRELOAD
    ("libkmem", [sys.executable, os.path.join(TOP, "tools", "libkmem", "check.py")]),
]


class Result:
    """Counts for one test program or boot, plus what went wrong."""

    def __init__(self, name):
        self.name, self.passed, self.failed, self.skipped = name, 0, 0, 0
        self.problems, self.seconds, self.log = [], 0.0, None

    def problem(self, text):
        self.problems.append(text)
        self.failed += 1

    def line(self):
        s = "%-34s %4d passed, %d failed, %d skipped (%.1f s)" % (
            self.name, self.passed, self.failed, self.skipped, self.seconds)
        return s + "".join("\n    FAIL: " + p for p in self.problems)


def save_log(name, text):
    os.makedirs(LOGS, exist_ok=True)
    path = os.path.join(LOGS, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".log")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(cmd, timeout, stdin=subprocess.DEVNULL, data=None):
    """Run cmd (with `data` as its piped input, if given); returns (exit status
    or None on timeout, output text, seconds)."""
    start = time.time()
    try:
        p = subprocess.run(cmd, stdin=None if data is not None else stdin, input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, cwd=TOP)
        return p.returncode, p.stdout.decode("utf-8", "replace"), time.time() - start
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        return None, out, time.time() - start


# ------------------------------------------------------------------ host tests

def parse_cmocka(r, out):
    failed_names = set()
    for line in out.splitlines():
        if line.startswith("[       OK ]"):
            r.passed += 1
        elif line.startswith("[  SKIPPED ]") and "test(s)" not in line:
            r.skipped += 1
        elif (line.startswith("[  FAILED  ]") or line.startswith("[  ERROR   ]")) \
                and "test(s)" not in line:
            name = line[12:].strip()
            if name.startswith("---"):
                continue    # cmocka's assertion detail, not a case name
            if name not in failed_names:
                failed_names.add(name)
                r.problem("case " + name)


def host_test(path):
    r = Result("host " + os.path.basename(path))
    status, out, r.seconds = run([path], HOST_TIMEOUT)
    r.log = save_log(r.name, out)
    parse_cmocka(r, out)
    if status is None:
        r.problem("timed out after %d s" % HOST_TIMEOUT)
    elif status != 0 and r.failed == 0:
        r.problem("exit status %d with no failed case reported (crash?)" % status)
    elif r.passed + r.failed + r.skipped == 0:
        r.problem("ran no test")
    return r


def host_check(name, cmd):
    r = Result("check " + name)
    status, out, r.seconds = run(cmd, HOST_TIMEOUT)
    r.log = save_log(r.name, out)
    m = None
    for m in re.finditer(r"^(?:[\w -]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$",
                         out, re.M):
        pass
    if m:
        r.passed, r.failed = int(m.group(1)), int(m.group(2))
        r.skipped = int(m.group(3) or 0)
        if r.failed:
            r.problems.append("%d failed (see %s)" % (r.failed, r.log))
    if status is None:
        r.problem("timed out")
    elif status != 0 and r.failed == 0:
        r.problem("exit status %d" % status)
    elif not m:
        r.problem("no 'N passed, N failed' line")
    return r


# ------------------------------------------------------------------ boots

KTAP_CASE = re.compile(r"^  (ok|not ok) (\d+) (\S+)(.*)$")
KTAP_SUITE = re.compile(r"^(ok|not ok) (\d+) (\S+)(.*)$")


def parse_ktap(r, out):
    """Count nested cases into r; returns the boot-level problems (version
    line, plan, suite lines)."""
    lines = out.splitlines()
    try:
        start = lines.index("KTAP version 1")
    except ValueError:
        return ["no 'KTAP version 1' line"]
    if start + 1 >= len(lines) or not re.match(r"^1\.\.(\d+)$", lines[start + 1]):
        return ["no KTAP plan after the version line"]
    plan, suites = int(lines[start + 1][3:]), 0
    for line in lines[start + 2:]:
        m = KTAP_CASE.match(line)
        if m:
            if "# SKIP" in m.group(4):
                r.skipped += 1
            elif m.group(1) == "ok":
                r.passed += 1
            else:
                r.problem("case " + m.group(3))
            continue
        if KTAP_SUITE.match(line):
            suites += 1
    if suites != plan:
        return ["plan says %d suites, %d reported (crash or hang mid-run?)" % (plan, suites)]
    return []


ZONE_LINE = re.compile(r"^    node (\d+) (DMA|DMA32|NORMAL)\s+\[0x([0-9a-f]+)-0x([0-9a-f]+)\) (\d+) pages")
RESV_LINE = re.compile(r"^    \[0x([0-9a-f]+)-0x([0-9a-f]+)\] (\S+)")
PAGE = 4096


def boot_dtb(cfg):
    """The blob QEMU hands to OpenSBI for this configuration."""
    if cfg.get("dtb"):
        return cfg["dtb"]
    if cfg.get("board"):
        return os.path.join(BUILD, "dts", cfg["board"] + ".dtb")
    path = os.path.join(BUILD, "test-dtb", cfg["name"] + ".dtb")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cmd = qemu.command(KERNEL, smp=cfg.get("smp", 4), mem=cfg.get("mem", "1G"),
                       numa=cfg.get("numa", 0))
    m = cmd.index("-M")
    cmd[m + 1] += ",dumpdtb=" + path
    subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return path


def kernel_map(out):
    """Zones and reserved ranges from the map the kernel printed at boot."""
    zones, resv, section = {}, [], None
    for line in out.splitlines():
        if line.startswith("  zones:") or line.startswith("  reserved:"):
            section = line.split(":")[0].strip()
        elif not line.startswith("    "):
            section = None if not line.startswith("  ") else section
        m = ZONE_LINE.match(line)
        if m and section == "zones":
            zones[(int(m.group(1)), m.group(2))] = int(m.group(5))
        m = RESV_LINE.match(line)
        if m and section == "reserved":
            resv.append((int(m.group(1), 16), int(m.group(2), 16) + 1, m.group(3)))
    return zones, resv


def fdtcheck_map(dtb):
    """The platform map of a blob as tools/fdtcheck.py computes it: python3-libfdt
    and its own zone arithmetic, sharing no code with mm/ or build/host/fdtinfo."""
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    code = ("import json, sys; sys.path.insert(0, %r); import fdtcheck; "
            "print(json.dumps(fdtcheck.expected(open(%r, 'rb').read())))"
            % (os.path.join(TOP, "tools"), dtb))
    return json.loads(subprocess.run([py, "-c", code], check=True, capture_output=True,
                                     text=True, cwd=TOP).stdout)


def check_zones(r, cfg, out):
    """End to end: the kernel's zones are the zones tools/fdtcheck.py derives
    independently from the same blob, less the pages of what the kernel and
    OpenSBI reserved on top of it.  Returns a problem, or None."""
    info = fdtcheck_map(boot_dtb(cfg))
    kzones, kresv = kernel_map(out)
    known = {(int(x["base"], 16), int(x["base"], 16) + int(x["size"], 16))
             for x in info["reserved"]}
    extra = [(a, b) for a, b, _ in kresv if (a, b) not in known]
    expect = {}
    for z in info["zones"]:
        lo, hi = int(z["base"], 16), int(z["end"], 16)
        taken = sum(max(0, min(b, hi) - max(a, lo)) for a, b in extra) // PAGE
        if z["pages"] - taken > 0:
            expect[(z["node"], z["zone"])] = z["pages"] - taken
    if not kzones:
        return "no zone lines in the boot log"
    if kzones != expect:
        return ("kernel zones %s != fdtcheck.py zones less kernel/OpenSBI reservations %s"
                % (sorted(kzones.items()), sorted(expect.items())))
    return None


def boot(cfg):
    """Boot one configuration and judge it by its expectations.  Counts one
    case per KTAP case, plus one case for the boot itself, which passes only if
    every boot-level check holds (exit status, expected output, zones, no
    panic, every hart online, a complete KTAP plan)."""
    r = Result("boot " + cfg["name"])
    cmd = qemu.command(KERNEL, smp=cfg.get("smp", 4), mem=cfg.get("mem", "1G"),
                       fw=cfg.get("fw", "default"), board=cfg.get("board"),
                       dtb=cfg.get("dtb"), numa=cfg.get("numa", 0),
                       bootargs=cfg.get("args", "ktest"), extra=cfg.get("extra", ()))
    if "stdin" in cfg:      # piped console input goes through the launcher, as in `make run`
        cmd = [sys.executable, os.path.join(TOP, "tools", "qemu.py"), "--kernel", KERNEL,
               "--smp", str(cfg["smp"]), "--mem", cfg["mem"], "--args", cfg.get("args", ""),
               "--interactive"]
    timeout = cfg.get("timeout", BOOT_TIMEOUT)
    status, out, r.seconds = run(cmd, timeout, data=cfg.get("stdin"))
    r.log = save_log(r.name, " ".join(cmd) + "\n" + out)
    bad = boot_problems(r, cfg, status, out, timeout)
    r.problems += bad
    if bad:
        r.failed += 1
    else:
        r.passed += 1
    return r


def boot_problems(r, cfg, status, out, timeout):
    """What is wrong with the boot as a whole (its KTAP cases go into r)."""
    expect = cfg.get("expect_status", 0)
    if status is None:
        return ["timed out after %d s (hang?) - log %s" % (timeout, r.log)]
    bad = []
    if cfg.get("ktap", True):
        bad += parse_ktap(r, out)
    if cfg.get("check_zones", cfg.get("ktap", True)) and status == 0:
        bad += [p for p in [check_zones(r, cfg, out)] if p]
    bad += ["output lacks %r" % text for text in cfg.get("expect_output", []) if text not in out]
    bad += ["output matches no /%s/" % rx for rx in cfg.get("expect_re", [])
            if not re.search(rx, out, re.M)]
    if "never arrived" in out and not cfg.get("allow_missing_harts"):
        bad.append("a hart never came online - log %s" % r.log)
    if "KERNEL PANIC" in out and expect == 0:
        bad.append("kernel panicked - log %s" % r.log)
    if "stress_last" in cfg:
        bad += stress_problems(cfg, out, r.log)
    if (status == 0) != (expect == 0):
        bad.append("QEMU exit status %d, expected %s - log %s"
                   % (status, "0" if expect == 0 else "non-zero", r.log))
    return bad


def stress_problems(cfg, out, log):
    """A stress run's contract (DESIGN.md §5): its last console line is
    `stress: passed ...` or `stress: FAILED <reason>`, and matches what the
    configuration expects."""
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    if not re.match(cfg["stress_last"], last):
        return ["last line %r does not match %r - log %s" % (last[:200], cfg["stress_last"], log)]
    return []


def stress_matrix():
    """Issue 9 §1: short stress runs (kernel/stress.c) on 1, 4 and 8 harts, 2 NUMA
    nodes, the DMA board, full kmem_debug and failure injection; and the
    self-test hooks, which must make the verification fail for the right
    reason (a leak is `lost`, a flipped bit is `corrupt`)."""
    passed = r"^stress: passed ops \d+ seconds \d+ ops/s \d+$"
    base = {"ktap": False, "stress_last": passed, "timeout": 120}
    runs = [
        {"name": "stress-smp1-256M", "smp": 1, "mem": "256M", "args": "stress=2"},
        {"name": "stress-smp4-512M", "smp": 4, "mem": "512M", "args": "stress=3"},
        {"name": "stress-smp8-512M", "smp": 8, "mem": "512M", "args": "stress=3"},
        {"name": "stress-numa2-smp4-1G", "smp": 4, "mem": "1G", "numa": 2, "args": "stress=3",
         "expect_output": ["stress: seed", "nodes 2"]},
        {"name": "stress-board-virt-dma", "board": "virt-dma", "args": "stress=3",
         "expect_output": ["dma pools", "stress: verify arena "]},
        {"name": "stress-kmem-debug-all", "smp": 4, "mem": "512M",
         "args": "stress=3 kmem_debug=all"},
        {"name": "stress-fail-every-50", "smp": 4, "mem": "512M",
         "args": "stress=3 fail_every=50", "expect_output": ["stress: injected page "]},
        {"name": "stress-selftest-leak", "smp": 2, "mem": "256M",
         "args": "stress=2 stress_leak=1 stress_seed=7", "expect_status": 1,
         "stress_last": r"^stress: FAILED verify: \d+ pages lost; cache stress-8 1 objects lost$",
         "expect_output": ["leaks page", "stress: verify cache stress-8 in use 1 LOST",
                           # the owners report: the one slab the leaked object pins
                           "stress: lost? cache stress-8 slab memory 4096 before 0"],
         "expect_re": [r"stress: lost\? arena kmem_slab_0 spans (\d+) bytes before (?!\1\b)\d+"]},
        {"name": "stress-selftest-hang", "smp": 2, "mem": "256M",
         "args": "stress=60 stress_hang=1 stress_seed=7", "expect_status": 1,
         "stress_last": r"^stress: FAILED hang: hart 1 made no progress for 2\d s while the others "
                        r"made \d+ operations \(phase 0, ops stuck at \d+, last in stress_hang=1\)$",
         "expect_output": ["stress: stress_hang=1: hart 1 stops on purpose"]},
        {"name": "stress-selftest-corrupt", "smp": 2, "mem": "256M",
         "args": "stress=3 stress_corrupt=1 stress_seed=7", "expect_status": 1,
         "stress_last": r"^stress: FAILED corrupt \S+ object .* owner 1 seq \d+: word 0 is ",
         "expect_output": ["flipped bit 3"]},
        {"name": "stress-bad-words", "smp": 1, "mem": "128M",
         "args": "ktest=ktest stress=0 stress_remote=101 fail_every=x stress_seed=",
         "ktap": True, "stress_last": r"",     # a ktest boot: KTAP is judged
         "expect_output": ["'stress=0': a run lasts at least 1 second; ignored",
                           "'stress_remote=101': percent 0..100 expected; default kept",
                           "'fail_every=x': a rate 0..1000000000 expected; default kept",
                           "unknown word 'stress_seed=' ignored"]},
        {"name": "stress-bad-kinds", "smp": 1, "mem": "128M",
         "args": "stress=1 stress_kinds=cache,bogus", "expect_status": 1,
         "stress_last": r"^stress: FAILED stress_kinds='cache,bogus' leaves nothing to run$",
         "expect_output": ["stress_kinds: no kind 'bogus'"]},
    ]
    return [dict(base, **r) for r in runs]


def make_bad_dtbs():
    """DTBs for the bad-input boots, from QEMU's own tree: without a memory
    node, and listing more harts than QEMU will run."""
    d = os.path.join(BUILD, "test-dtb")
    os.makedirs(d, exist_ok=True)
    nomem, extra = os.path.join(d, "nomem.dtb"), os.path.join(d, "extraharts.dtb")
    subprocess.run([qemu.QEMU, "-M", "virt,dumpdtb=" + nomem, "-smp", "2", "-m", "256M",
                    "-nographic"], check=True, capture_output=True)
    subprocess.run(["fdtput", "-r", nomem, "/memory@80000000"], check=True)
    subprocess.run([qemu.QEMU, "-M", "virt,dumpdtb=" + extra, "-smp", "4", "-m", "256M",
                    "-nographic"], check=True, capture_output=True)
    return nomem, extra


def kmem_matrix():
    """Issue 8: every suite passes with every kmem debug flag on and with the
    magazine layer off (on NUMA and DMA boards too), and bad kmem options
    are reported and change nothing."""
    return [
        {"name": "kmem-debug-all-smp4-1G", "smp": 4, "mem": "1G", "args": "ktest kmem_debug=all"},
        {"name": "kmem-debug-all-numa2-dma", "board": "virt-numa2-dma",
         "args": "ktest kmem_debug=all"},
        {"name": "kmem-nomagazine-numa2-smp4-2G", "smp": 4, "mem": "2G", "numa": 2,
         "args": "ktest kmem_nomagazine"},
        {"name": "kmem-nomagazine-dma", "board": "virt-dma", "args": "ktest kmem_nomagazine"},
        {"name": "bad-kmem-options", "smp": 1, "mem": "128M",
         "args": "ktest=kmem kmem_debug=redzone,nosuch kmem_reap_interval=abc",
         "expect_output": ["unknown flag 'nosuch'", "kmem debugging stays off",
                           "'kmem_reap_interval=abc': milliseconds"]},
    ]


def page_defer_matrix():
    """Deferred page descriptors (`page_defer=MIB`, docs/page_alloc.md): every
    suite on two nodes with most of each zone deferred at boot (the page
    suite's exhaustion grows them all), and a stress run with deferral on,
    whose zone check must still balance; a bad value is reported and changes
    nothing."""
    grown = r"descriptors for \d+ pages set up by \d+ harts in \d+ us; [1-9]\d* MiB deferred"
    return [
        {"name": "page-defer-numa2-smp4-2G", "smp": 4, "mem": "2G", "numa": 2,
         "args": "ktest page_defer=64", "expect_re": [grown]},
        {"name": "stress-page-defer-smp4-1G", "smp": 4, "mem": "1G", "ktap": False,
         "timeout": 120, "args": "stress=3 page_defer=64 page_defer=abc",
         "stress_last": r"^stress: passed ops \d+ seconds \d+ ops/s \d+$",
         "expect_re": [grown], "expect_output": ["'page_defer=abc': MiB 0..1048576 expected"]},
    ]


def make_impossible_dtbs():
    """DTBs that describe a machine QEMU (-m 512M) does not have, each from
    QEMU's own tree edited with fdtput: 1 GiB of memory, an overlapping second
    memory node, a no-map reservation over the kernel image, and dma-ranges
    that end below all RAM.  Each edit: (fdtput options, node, values)."""
    d = os.path.join(BUILD, "test-dtb")
    os.makedirs(d, exist_ok=True)
    img = "/reserved-memory/image@80200000"
    edits = {
        "moremem": [(["-t", "x"], "/memory@80000000", ["reg", "0", "0x80000000", "0", "0x40000000"])],
        "overlap": [(["-c"], "/memory@90000000", []),
                    (["-t", "s"], "/memory@90000000", ["device_type", "memory"]),
                    (["-t", "x"], "/memory@90000000", ["reg", "0", "0x90000000", "0", "0x10000000"])],
        "nomapkernel": [(["-c", "-p"], img, []),
                        (["-t", "x"], "/reserved-memory", ["#address-cells", "2"]),
                        (["-t", "x"], "/reserved-memory", ["#size-cells", "2"]),
                        (["-t", "x"], img, ["reg", "0", "0x80200000", "0", "0x200000"]),
                        (["-t", "s"], img, ["no-map", ""])],
        "dmanoram": [(["-t", "x"], "/soc", ["dma-ranges", "0", "0", "0", "0", "0", "0x10000000"])],
    }
    paths = {}
    for name, cmds in edits.items():
        path = paths[name] = os.path.join(d, name + ".dtb")
        subprocess.run([qemu.QEMU, "-M", "virt,dumpdtb=" + path, "-smp", "2", "-m", "512M",
                        "-nographic"], check=True, capture_output=True)
        for opts, node, values in cmds:
            subprocess.run(["fdtput"] + opts + [path, node] + values, check=True)
    paths["badname"] = corrupt_first_property(paths["dmanoram"], os.path.join(d, "badname.dtb"))
    return paths


def corrupt_first_property(src, dst):
    """A copy of src whose first property names a string past the strings
    block: only a full structural check sees it (libfdt's header check does
    not).  Returns dst."""
    b = bytearray(open(src, "rb").read())
    total, off_st, off_str = (int.from_bytes(b[i:i + 4], "big") for i in (4, 8, 12))
    size_str = int.from_bytes(b[32:36], "big")
    o = off_st + 4
    o = (b.index(0, o) + 4) & ~3                  # past the root's (empty) name
    assert int.from_bytes(b[o:o + 4], "big") == 3  # FDT_PROP
    b[o + 8:o + 12] = (size_str + 0x1000).to_bytes(4, "big")
    open(dst, "wb").write(b[:total])
    return dst


def boot_matrix():
    m = [
        {"name": "smp1-128M", "smp": 1, "mem": "128M"},
        {"name": "smp2-1G", "smp": 2, "mem": "1G"},
        {"name": "smp4-1G", "smp": 4, "mem": "1G"},
        {"name": "smp8-1G", "smp": 8, "mem": "1G"},
        {"name": "smp4-6G", "smp": 4, "mem": "6G"},
        {"name": "numa2-smp4-2G", "smp": 4, "mem": "2G", "numa": 2},
        {"name": "fwjump-smp4-512M", "smp": 4, "mem": "512M", "fw": "jump"},
    ]
    for b in qemu.boards():
        m.append({"name": "board-" + b, "board": b})
    # The most harts Debian's OpenSBI 1.1 manages (MAX_CPUS): a short suite
    # (bring-up and cross-calls); full ktest on many harts is `make test-big`.
    m.append({"name": "smp128-2G-short", "smp": 128, "mem": "2G", "args": "ktest=smp,lib"})
    m += kmem_matrix()
    m += page_defer_matrix()
    m += stress_matrix()
    nomem, extra = make_bad_dtbs()
    m += [
        {"name": "bad-dtb-no-memory", "smp": 2, "mem": "256M", "dtb": nomem,
         "ktap": False, "expect_status": 1, "timeout": 60,
         "expect_output": ["describes no memory", "KERNEL PANIC"]},
        {"name": "bad-dtb-extra-harts", "smp": 2, "mem": "256M", "dtb": extra,
         "allow_missing_harts": True,
         "expect_output": ["did not come online", "2 of 4 harts online"]},
        {"name": "smp4-opensbi-start-race", "smp": 4, "mem": "256M",
         "args": "ktest=smp smp_via_start",
         "expect_output": ["hart_start race); recovered", "4 of 4 harts online"]},
        {"name": "bad-cmdline-word", "smp": 1, "mem": "128M", "args": "ktest=ktest bogus_word",
         "expect_output": ["unknown word 'bogus_word' ignored"]},
        {"name": "bad-ktest-suite-name", "smp": 1, "mem": "128M",
         "args": "ktest=ktest,no_such_suite", "expect_status": 1,
         "expect_output": ["1..2", "ok 1 ktest", "no suite named 'no_such_suite'",
                           "not ok 2 no_such_suite", "2 suites, 1 failures"]},
        {"name": "console-piped-input", "smp": 1, "mem": "128M", "args": "", "ktap": False,
         "timeout": 60, "stdin": b"harts\n\x1bhelp\nvmem -x\n" + b"x" * 5000 + b"\npoweroff\n",
         "expect_output": ["kmem> harts\r\n", "  poweroff     stop every hart",
                           "usage: vmem [-s] [ARENA]",
                           "line longer than 127 characters refused"]},
    ]
    imp = make_impossible_dtbs()
    m += [
        {"name": "bad-dtb-more-memory-than-ram", "smp": 2, "mem": "512M", "dtb": imp["moremem"],
         "ktap": False, "expect_status": 1, "timeout": 60,
         "expect_output": ["memory range [0x80000000-0xbfffffff] (node -1) of the device tree "
                           "is not backed by RAM", "KERNEL PANIC"]},
        {"name": "bad-dtb-overlapping-memory", "smp": 2, "mem": "512M", "dtb": imp["overlap"],
         "args": "ktest=page,mmu",
         "expect_output": ["overlaps [0x80000000-0x9fffffff] node -1: merged",
                           "bootmem: added 536870912 "]},
        {"name": "bad-dtb-no-map-over-kernel", "smp": 2, "mem": "512M", "dtb": imp["nomapkernel"],
         "args": "ktest=page,mmu",
         # check_zones subtracts the kernel image again although the blob's
         # no-map range already holds it; page_test_zones_match_platform_map
         # checks this boot's zones, counting those pages once.
         "check_zones": False,
         "expect_output": ["reservation 'image@80200000' (no-map) [0x80200000-0x803fffff] "
                           "covers the kernel image"]},
        {"name": "bad-dtb-checked-before-drivers", "smp": 1, "mem": "512M",
         "dtb": imp["badname"], "ktap": False, "expect_status": 1, "timeout": 60,
         "expect_output": ["is not a valid device tree: property at structure offset 0x",
                           "is outside the strings block", "KERNEL PANIC"]},
        {"name": "bad-dtb-dma-reaches-no-ram", "smp": 2, "mem": "512M", "dtb": imp["dmanoram"],
         "args": "ktest=page,segkmem",
         "expect_output": ["devices reach no RAM, DMA allocations will fail",
                           "segkmem_test_dma_pool_alloc_and_exhaustion # SKIP dma-ranges reach no RAM"]},
    ]
    return m


def big_matrix():
    """`make test-big`: full ktest on the largest configurations (not in make test).
    QEMU 7.2 virt needs the AIA interrupt controllers for 3 or more NUMA nodes."""
    aia = ["-M", "aia=aplic-imsic"]
    return [
        {"name": "big-smp64-64G-numa4", "smp": 64, "mem": "64G", "numa": 4, "extra": aia,
         "timeout": 300},
        {"name": "big-smp128-256G-numa4", "smp": 128, "mem": "256G", "numa": 4, "extra": aia,
         "timeout": 300},
    ]


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description="make test")
    ap.add_argument("--only", choices=["host", "boot"])
    ap.add_argument("--filter", default="")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--big", action="store_true",
                    help="run big_matrix() (make test-big) instead of the usual tests")
    o = ap.parse_args()

    jobs = []
    if o.big:
        jobs += [("boot " + c["name"], boot, (c,)) for c in big_matrix()]
        o.only, o.jobs = "big", 1          # one at a time: each uses every host core
    if o.only in (None, "host"):
        tdir = os.path.join(BUILD, "host", "tests")
        progs = sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []
        jobs += [("host " + p, host_test, (os.path.join(tdir, p),)) for p in progs
                 if p.startswith("test_") and os.access(os.path.join(tdir, p), os.X_OK)]
        jobs += [("check " + n, host_check, (n, c)) for n, c in HOST_CHECKS]
    if o.only in (None, "boot"):
        jobs += [("boot " + c["name"], boot, (c,)) for c in boot_matrix()]
    jobs = [j for j in jobs if o.filter in j[0]]
    if o.list:
        print("\n".join(j[0] for j in jobs))
        return 0

    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, o.jobs)) as pool:
        futures = [pool.submit(fn, *args) for _, fn, args in jobs]
        for fut in futures:
            r = fut.result()
            print(r.line(), flush=True)
            results.append(r)
    if not results:
        print("testrun: nothing ran", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    print("logs in %s" % os.path.relpath(LOGS, TOP))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
