#!/usr/bin/env python3
"""libkmem's checks for `make test` (docs/libkmem.md), one case per line.

  1. tests/host/malloc_torture.c under LD_PRELOAD=build/host/libkmem.so, with
     the default options, with KMEM_OPTIONS=debug=all and with nomagazine;
  2. bad frees and memory misuse (tests/host/malloc_badfree.c): each run must
     die of SIGABRT with a 'libkmem:' report naming the pointer the program
     printed and the kind of error;
  3. KMEM_OPTIONS: an unknown word, and each bad value (magsize, heap, debug
     flag, a word too long), is reported and ignored; a heap the address
     space cannot hold is reported at start-up and malloc returns NULL; stats prints the kmastat table,
     whose cache names (libkmem's own snprintf) agree with their size column;
     a heap too small for the program overflows into the aligned arena;
     malloc from a program's .preinit_array and first constructor works and
     sees the options (tests/host/malloc_early.c);
  4. real Debian programs doing real work, run twice, without and with the
     preload: their output must be byte-identical, and the preloaded run must
     really have used libkmem (KMEM_OPTIONS=stats: its kmastat table, with
     kmalloc allocations, on stderr);
  5. the idle footprint: `cat /proc/self/status` under the preload may show
     at most IDLE_PEAK_BUDGET_KIB more VmHWM (the kernel's peak RSS of the
     process itself) than without it; and /bin/true's KMEM_OPTIONS=footprint
     table must add up to the kernel's VmRSS and hold at most IDLE_BUDGET_KIB
     in the allocator's own regions; /bin/true makes no cache but kmem's two
     internal ones, and echo only its classes and the magazine caches they
     start with (caches are made on first use);
  6. libkmem.so's layout (tools/libkmem/libkmem.ld): in cat and python3 the
     cold mappings (.eh_frame and the cold functions) hold no resident page,
     and its file mappings hold at most LAYOUT_BUDGET_KIB in all.

Cases run two at a time.  Ends with 'libkmem: N passed, N failed' for
tools/testrun.py.
  check.py [--filter SUBSTR] [-v]
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = os.path.join(TOP, "build", "host")
LIB = os.path.join(HOST, "libkmem.so")
TIMEOUT = 120
# The idle footprint's bounds (case 5, docs/libkmem.md section 10).  KiB that
# the allocator's own regions of /bin/true may hold (its footprint table: 188
# KiB, the same every run; heap.boot 8, heap.meta 8, text 76 and ro 40 with the
# cold pages the report itself faults in, data 4, bss 52):
IDLE_BUDGET_KIB = 208
# KiB that libkmem may add to the peak RSS of a small program (cat of one
# file; the least of three runs each way): libkmem's regions and its effect
# on the program's, 440 to 560 KiB measured on a loaded host, noisy.
IDLE_PEAK_BUDGET_KIB = 640
# libkmem.so's own resident file pages in a small program (case 6): 84 KiB
# with the cold layout of tools/libkmem/libkmem.ld (112 without it).
LAYOUT_BUDGET_KIB = 88
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable  # Debian's

# (mode, KMEM_OPTIONS, words the report must contain)
BADFREE = [
    ("double", "", ["double free"]),
    ("double-large", "", ["not allocated by kmalloc"]),
    ("double-align", "", ["not an allocated block of the aligned arena"]),
    ("interior", "", ["not the start of a buffer of kmalloc-64"]),
    ("stack", "", ["not allocated by kmalloc"]),
    ("realloc-bad", "", ["realloc(", "not the start of a buffer"]),
    ("double", "debug=all", ["duplicate free", "kmalloc-40"]),
    ("interior", "debug=all", ["free of an address inside a buffer"]),
    ("use-after", "debug=poison", ["buffer modified after being freed"]),
    ("overrun", "debug=redzone", ["redzone violation"]),
]

PY_WORKLOAD = r"""
import json, re, random, hashlib
r = random.Random(1234)
words = ["".join(r.choice("abcdefghijklmnop") for _ in range(r.randint(1, 12))) for _ in range(60000)]
doc = [{"id": i, "w": words[i], "tags": sorted(set(words[i::997][:20])), "v": r.random()} for i in range(0, 60000, 3)]
s = json.dumps(doc, sort_keys=True)
back = json.loads(s)
print(len(s), hashlib.sha256(s.encode()).hexdigest())
print(sorted(words)[:5], sorted(words, key=lambda w: (len(w), w[::-1]))[-3:])
text = " ".join(words)
print(len(re.findall(r"\b[a-e]+p\b", text)), re.sub(r"(a+)(b+)", r"<\2\1>", text)[:200])
d = {}
for w in words:
    d.setdefault(w[:3], []).append(w)
print(len(d), sum(len(v) for v in d.values()), back[-1]["w"])
"""


CXX_SOURCE = r"""
#include <map>
#include <string>
#include <vector>
#include <algorithm>
#include <iostream>
std::map<std::string, std::vector<int>> index_words(const std::vector<std::string> &w)
{
    std::map<std::string, std::vector<int>> m;
    for (size_t i = 0; i < w.size(); i++)
        m[w[i]].push_back((int)i);
    return m;
}
int main()
{
    std::vector<std::string> w;
    for (int i = 0; i < 100000; i++)
        w.push_back(std::to_string(i * 7919 % 1013));
    auto m = index_words(w);
    std::sort(w.begin(), w.end());
    std::cout << m.size() << " " << w.front() << " " << w.back() << "\n";
}
"""


def env_with(preload, opts=None):
    e = dict(os.environ)
    e.pop("KMEM_OPTIONS", None)
    e.pop("LD_PRELOAD", None)
    if preload:
        e["LD_PRELOAD"] = LIB
    if opts is not None:
        e["KMEM_OPTIONS"] = opts
    return e


def run(cmd, env, stdin=None, shell=False, cwd=None):
    try:
        p = subprocess.run(cmd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT, shell=shell, cwd=cwd)
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, b"", "timed out after %d s" % TIMEOUT


def torture(opts, args=(), expect_err=None, err_out=None):
    st, out, err = run([os.path.join(HOST, "malloc_torture"), "--expect-kmem"] + list(args),
                       env_with(True, opts))
    if err_out is not None:
        err_out.append(err)
    if st != 0 or b"malloc_torture: passed" not in out:
        return "status %s: %s" % (st, (out.decode(errors="replace") + err).strip()[-600:])
    if expect_err and expect_err not in err:
        return "stderr lacks %r: %r" % (expect_err, err[-300:])
    return None


def badfree(mode, opts, words):
    st, out, err = run([os.path.join(HOST, "malloc_badfree"), mode], env_with(True, opts))
    m = re.search(rb"^ptr (0x[0-9a-f]+)", out, re.M)
    if st != -signal.SIGABRT:
        return "status %s, not SIGABRT; stdout %r" % (st, out[-200:])
    report = [ln for ln in err.splitlines() if ln.startswith("libkmem: ")]
    if not m or not report:
        return "no pointer printed or no 'libkmem:' report: %r" % err[-400:]
    ptr = m.group(1).decode()
    if ptr not in err:
        return "report does not name %s: %r" % (ptr, report)
    missing = [w for w in words if w not in err]
    return "report lacks %s: %r" % (missing, report) if missing else None


def early():
    """malloc from .preinit_array and the first constructor; options read by then."""
    st, out, err = run([os.path.join(HOST, "malloc_early")], env_with(True, "stats"))
    if st != 0 or b"malloc_early: passed" not in out:
        return "status %s: %r %r" % (st, out[-200:], err[-300:])
    if not used_kmem(err):
        return "no kmastat table: KMEM_OPTIONS was not read before main"
    return None


def torture_shared():
    """The torture with default options (plus stats): its 80-thread burst overflows the slots."""
    err = []
    why = torture("stats", [], None, err)
    if why:
        return why
    m = re.search(r"^libkmem: threads: (\d+) took a slot, (\d+) ran on the shared slot", err[0],
                  re.M)
    if not m or int(m.group(2)) == 0:
        return "no thread ran on the shared slot: %s" % (m.group(0) if m else err[0][-300:])
    return None


def serial_threads():
    """100 threads one after another: each exiting thread gives its slot back."""
    err = []
    why = torture("stats", ["--serial", "100"], None, err)
    if why:
        return why
    m = re.search(r"^libkmem: threads: (\d+) took a slot, (\d+) ran on the shared slot", err[0],
                  re.M)
    if not m:
        return "no thread line in the stats: %r" % err[0][-300:]
    if int(m.group(1)) != 101 or int(m.group(2)) != 0:
        return "want 101 threads with a slot (main + 100) and 0 shared: %s" % m.group(0)
    return None


BIG_LINE = re.compile(r"^libkmem: big frees: (\d+) purges, (\d+) ranges \((\d+) KiB\) given back "
                      r"with madvise, (\d+) KiB free and resident", re.M)


def big_frees(mode):
    """Big blocks: one taken again at once is never given back; 64 left free are."""
    err = []
    why = torture("stats", ["--big", mode], None, err)
    if why:
        return why
    m = BIG_LINE.search(err[0])
    if not m:
        return "no big-frees line in the stats: %r" % err[0][-300:]
    ranges, kib = int(m.group(2)), int(m.group(3))
    if mode == "reuse" and ranges != 0:
        return "a block reused at once was given back %d times: %s" % (ranges, m.group(0))
    if mode == "spread" and (ranges < 64 or kib < 64 * 256):
        return "64 free blocks of 256 KiB were not all given back: %s" % m.group(0)
    if mode == "split" and int(m.group(4)) != 0:
        return "a freed range taken again by small big blocks still counts as free: %s" % m.group(0)
    return None


def magstat_sizes():
    """KMEM_OPTIONS=magstat: each kmalloc class starts with the magazine size of
    Bonwick & Adams' table for its buffer size (kmem.c kmem_magtypes, read
    here as the paper's rule: 63 rounds below 64 bytes, 31 to 255, 15 to
    1023, 7 to 4095, 3 to 16383, then 1), capped at libkmem's 15 rounds
    (kmem_magsize_max), or not with magsize=0; echo never contends, so none
    grew."""
    for opts, cap in (("magstat", 15), ("magstat,magsize=0", None), ("magstat,magsize=7", 7)):
        st, out, err = run(["/bin/echo", "x"], env_with(True, opts))
        if st != 0 or out != b"x\n":
            return "%s: status %s, stdout %r" % (opts, st, out)
        why = magsizes_are(opts, err, cap)
        if why:
            return why
    return None


def start_mag(size, cap):
    """The magazine size a kmalloc class of `size`-byte buffers starts with: the
    paper's rule (63 rounds below 64 bytes, 31 to 255, 15 to 1023, 7 to 4095,
    3 to 16383, then 1), capped at cap (None: no cap)."""
    want = next(m for lim, m in ((64, 63), (256, 31), (1024, 15), (4096, 7),
                                 (16384, 3), (1 << 62, 1)) if size < lim)
    return want if cap is None else min(want, cap)


def cache_rows(err):
    """{name: buffer size} of the kmastat table in err."""
    return dict((m.group(1), int(m.group(2))) for m in
                re.finditer(r"^(\S+)\s+(\d+)(?:\s+\d+){5}\s*$", err, re.M))


def caches_made():
    """Caches are made when first used (kmem.c section 4, kmalloc.c section 1):
    /bin/true, which allocates nothing, has only kmem's slab-header and bufctl
    caches.  echo has its kmalloc classes and one magazine cache: under
    libkmem's cap of 15 rounds every magazine comes from kmem_magazine_15 (no
    kmem_magazine_31 or bigger, never used, nor 1, 3 or 7); with magsize=0
    (no cap) exactly the caches of the sizes its classes start with
    (start_mag).  Each has (R+1)-word buffers (names from libkmem's own
    snprintf, sizes from libc's)."""
    st, _, err = run(["/bin/true"], env_with(True, "stats"))
    rows = cache_rows(err)
    if st != 0 or not rows:
        return "/bin/true: status %s, no kmastat table: %r" % (st, err[-300:])
    if sorted(rows) != ["kmem_bufctl", "kmem_slab"]:
        return "/bin/true: caches %s, want only kmem_bufctl and kmem_slab" % sorted(rows)
    for opts in ("stats", "stats,magsize=0"):
        st, out, err = run(["/bin/echo", "x"], env_with(True, opts))
        rows = cache_rows(err)
        if st != 0 or out != b"x\n":
            return "echo %s: status %s, stdout %r" % (opts, st, out)
        classes = [v for k, v in rows.items() if k.startswith("kmalloc-")]
        mags = sorted(int(k[len("kmem_magazine_"):]) for k in rows
                      if k.startswith("kmem_magazine_"))
        want = [15] if opts == "stats" else sorted(set(start_mag(size, None) for size in classes))
        if not classes or mags != want:
            return "echo %s: magazine caches %s for classes %s, want %s" % (
                opts, mags, sorted(classes), want)
        for r in mags:
            if rows["kmem_magazine_%d" % r] != (r + 1) * 8:
                return "echo %s: kmem_magazine_%d has %d-byte buffers" % (
                    opts, r, rows["kmem_magazine_%d" % r])
    return None


def magsizes_are(opts, err, cap):
    """None if magstat's report err shows every kmalloc class at the paper's
    magazine size for its buffer size, capped at cap (None: no cap), never resized."""
    rows = re.findall(r"^kmalloc-(\d+): magsize (\d+) .* resize (\d+)", err, re.M)
    if len(rows) < 2:
        return "%s: fewer than two kmalloc classes: %r" % (opts, err[:300])
    for size, mag, resize in rows:
        size, mag = int(size), int(mag)
        want = start_mag(size, cap)
        if mag != want or resize != "0":
            return "%s: kmalloc-%d: magsize %d resize %s, want %d and 0" % (
                opts, size, mag, resize, want)
    return None


def options_bad_values():
    """Each bad KMEM_OPTIONS value is reported by name and ignored: the program
    runs, magsize=999 leaves libkmem's cap of 15 rounds (magstat shows it),
    heap=1m the default heap, an unknown debug flag no debugging (the classes
    keep magazines), and a word too long for the parser is skipped."""
    opts = "magstat,magsize=999,heap=1m,debug=bogus," + "y" * 200
    st, out, err = run(["/bin/echo", "x"], env_with(True, opts))
    if st != 0 or out != b"x\n":
        return "status %s, stdout %r" % (st, out)
    for want in ("magsize=999: want 0 (no limit) to 255", "heap=1m: want a size from 16m",
                 "unknown flag 'bogus'", "KMEM_OPTIONS: option too long"):
        if want not in err:
            return "no report %r: %r" % (want, err[:400])
    if "the heap (" in err:
        return "heap=1m was not ignored: the heap filled"
    return magsizes_are("bad values", err, 15)


def options_unknown():
    st, out, err = run(["/bin/echo", "x"], env_with(True, "stats:bogus,nomagazine"))
    if st != 0 or out != b"x\n":
        return "status %s, stdout %r" % (st, out)
    if "unknown option 'bogus'" not in err:
        return "no message for the unknown option: %r" % err[:300]
    if not re.search(r"^kmalloc-\d+\s+\d+\s", err, re.M):
        return "stats: no kmastat line for a kmalloc class after the bad word"
    # classes are made on first use (kmalloc_ondemand): echo never asks for DMA memory
    if re.search(r"^dma-kmalloc-", err, re.M):
        return "stats: dma-kmalloc caches exist, but classes are made on demand"
    # names come from libkmem's own snprintf (umem_env.c section 6), the size column
    # from libc's: kmalloc-N holds N-byte buffers (magazine caches: caches_made)
    for m in re.finditer(r"^(kmalloc-)(\d+)\s+(\d+)\s", err, re.M):
        if int(m.group(3)) != int(m.group(2)):
            return "stats: cache %s%s has %s-byte buffers" % m.groups()
    # nomagazine: no magazine is ever allocated, so no magazine cache is made
    if re.search(r"^kmem_magazine_", err, re.M):
        return "stats: a kmem_magazine cache exists under nomagazine"
    return None


def start_failure():
    """A heap the address space cannot hold (ulimit -v 400 MB, heap=1g): start-up
    says so by name, and malloc returns NULL instead of crashing: echo, whose
    output needs no malloc, still prints."""
    st, out, err = run("ulimit -v 400000 && exec /bin/echo x", env_with(True, "heap=1g"),
                       shell=True)
    if "libkmem: cannot start the allocator (heap 1024 MiB)" not in err:
        return "no start-up failure report: status %s, %r" % (st, err[:300])
    if st is None or st < 0 or out != b"x\n":
        return "echo did not survive malloc's NULL: status %s, stdout %r" % (st, out)
    return None


def peak_kib(env):
    """VmHWM of `cat /proc/self/status` read by itself (a new process's own peak), in KiB."""
    st, out, _ = run(["cat", "/proc/self/status"], env)
    m = re.search(rb"^VmHWM:\s+(\d+) kB", out, re.M)
    return int(m.group(1)) if st == 0 and m else 0


def idle_footprint():
    """An idle program's footprint: kernel's peak RSS delta, and the footprint table's sums."""
    plain = min(peak_kib(env_with(False)) for _ in range(3))
    ours = min(peak_kib(env_with(True)) for _ in range(3))
    if plain == 0 or ours == 0:
        return "cat /proc/self/status failed (plain peak %d KiB, preloaded %d KiB)" % (plain, ours)
    if ours - plain > IDLE_PEAK_BUDGET_KIB:
        return "the preload adds %d KiB to cat's peak RSS (%d vs %d); budget %d KiB" % (
            ours - plain, ours, plain, IDLE_PEAK_BUDGET_KIB)
    cmd = ["/bin/true"]
    st, _, err = run(cmd, env_with(True, "footprint"))
    rows = dict((m.group(1), int(m.group(2))) for m in
                re.finditer(r"^libkmem: footprint: (\S+)\s+(\d+)\s", err, re.M))
    m = re.search(r"^libkmem: footprint: resident KiB by region \(VmRSS (\d+)", err, re.M)
    if st != 0 or not m or "allocator" not in rows or "total" not in rows:
        return "status %s, no footprint table: %r" % (st, err[-300:])
    parts = sum(v for k, v in rows.items() if k not in ("allocator", "total"))
    if parts != rows["total"] or abs(rows["total"] - int(m.group(1))) > 16:
        return "footprint regions add up to %d KiB, total says %d, VmRSS %s" % (
            parts, rows["total"], m.group(1))
    if rows["allocator"] > IDLE_BUDGET_KIB:
        return "footprint: the allocator's regions hold %d KiB; budget %d KiB" % (
            rows["allocator"], IDLE_BUDGET_KIB)
    return None


def elf_sections(path):
    """{name: (address, size)} of a shared object's sections, as binutils' readelf reads them."""
    out = subprocess.run(["readelf", "-SW", path], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return dict((m.group(1), (int(m.group(2), 16), int(m.group(3), 16))) for m in re.finditer(
        r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out, re.M))


def smaps_lib(text):
    """(start, end, Rss KiB) of each libkmem.so mapping in a /proc/PID/smaps text."""
    maps, cur = [], None
    for ln in text.splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ [0-9a-f]+ \S+ \d+\s*(\S*)", ln)
        if m:
            cur = None
            if os.path.basename(m.group(3)) == "libkmem.so":
                cur = [int(m.group(1), 16), int(m.group(2), 16), 0]
                maps.append(cur)
        elif cur is not None and ln.startswith("Rss:"):
            cur[2] = int(ln.split()[1])
    return maps


def text_layout():
    """libkmem.so's own pages (docs/libkmem.md section 10, Layout): in cat and in
    python3, the cold mappings (.eh_frame_hdr to the end of .kmcold.text, addresses
    from readelf) hold no resident page, and all its file mappings together at
    most LAYOUT_BUDGET_KIB (112 KiB when everything was one text and one rodata
    mapping)."""
    secs = elf_sections(LIB)
    if ".kmcold.text" not in secs or ".eh_frame_hdr" not in secs:
        return "no .kmcold.text or .eh_frame_hdr section: the cold layout is gone"
    lo = secs[".eh_frame_hdr"][0] & ~4095
    hi = secs[".kmcold.text"][0] + secs[".kmcold.text"][1]
    for cmd in (["cat", "/proc/self/smaps"],
                [PYTHON, "-c", "import sys; sys.stdout.write(open('/proc/self/smaps').read())"]):
        st, out, err = run(cmd, env_with(True))
        maps = smaps_lib(out.decode(errors="replace"))
        if st != 0 or not maps:
            return "%s: status %s, no libkmem.so mapping: %r" % (cmd[0], st, err[-300:])
        base = maps[0][0]
        cold = [mp for mp in maps if mp[0] - base < hi and mp[1] - base > lo]
        if not cold or any(mp[2] for mp in cold):
            return "%s: cold mappings %s hold resident pages (KiB): a cold function ran?" % (
                cmd[0], ["%x+%x: %d" % (mp[0] - base, mp[1] - mp[0], mp[2]) for mp in cold])
        total = sum(mp[2] for mp in maps)
        if total > LAYOUT_BUDGET_KIB:
            return "%s: libkmem.so's mappings hold %d KiB; budget %d KiB" % (
                cmd[0], total, LAYOUT_BUDGET_KIB)
    return None


def used_kmem(err):
    """Did the preloaded run allocate through libkmem? (its kmastat table)"""
    for m in re.finditer(r"^kmalloc-\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)\s", err, re.M):
        if int(m.group(1)) > 0:
            return True
    return False


def same_output(cmd, shell=False, stdin_path=None, cwd=None, outfile=None):
    """Run cmd without and with the preload; the outputs must be identical."""
    outs = []
    for preload in (False, True):
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        c = cmd(preload) if callable(cmd) else cmd
        st, out, err = run(c, env_with(preload, "stats" if preload else None), stdin=stdin,
                           shell=shell, cwd=cwd)
        if stdin_path:
            stdin.close()
        if st != 0:
            return "%s run: status %s: %s" % ("preloaded" if preload else "plain", st, err[-300:])
        if outfile:
            with open(outfile(preload), "rb") as f:
                out = f.read()
        if preload and not used_kmem(err):
            return "the preloaded run shows no kmalloc allocations (preload not in effect?)"
        outs.append(out)
    if outs[0] != outs[1]:
        return "outputs differ (%d vs %d bytes, sha256 %s vs %s)" % (
            len(outs[0]), len(outs[1]), hashlib.sha256(outs[0]).hexdigest()[:12],
            hashlib.sha256(outs[1]).hexdigest()[:12])
    if len(outs[0]) == 0:
        return "no output to compare"
    return None


def make_input(tmp):
    """A deterministic text file of 400k lines (no RNG shared with anything)."""
    path = os.path.join(tmp, "lines.txt")
    x, lines = 88172645463325252, []
    for i in range(400000):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        lines.append("%016x %d %s\n" % (x, i % 977, "abcdefghij"[x % 10] * (x % 23)))
    with open(path, "w") as f:
        f.writelines(lines)
    return path


def real_programs(tmp):
    lines = make_input(tmp)
    srcs = ["mm/kmem.c", "mm/vmem.c", "mm/kmem_slab.c"]
    cc = ["gcc", "-O2", "-std=gnu11", "-DMM_DEBUG=1", "-I" + TOP, "-I" + TOP + "/tests/host"]

    def gcc_obj(preload):
        return cc + ["-c", os.path.join(TOP, "mm/vmem.c"), "-o",
                     os.path.join(tmp, "vmem-%d.o" % preload)]
    cxx = os.path.join(tmp, "words.cc")
    with open(cxx, "w") as f:
        f.write(CXX_SOURCE)
    return [
        ("g++ -O2 -S of an STL program", ["g++", "-O2", "-S", "-o", "-", cxx], {}),
        ("gcc -S " + " ".join(srcs), ["bash", "-c", " && ".join(
            " ".join(cc + ["-S", "-o", "-", os.path.join(TOP, s)]) for s in srcs)], {}),
        ("gcc -c mm/vmem.c (object files)", gcc_obj,
         {"outfile": lambda p: os.path.join(tmp, "vmem-%d.o" % p)}),
        ("python3 json/sort/regex", [PYTHON, "-c", PY_WORKLOAD], {}),
        ("sort 400k lines", ["sort", "-S", "64M", "--parallel=2", lines], {}),
        ("sort -k2,2n -k1 | uniq -c", ["bash", "-c", "sort -k2,2n -k1 %s | cut -c1-20 | "
                                       "uniq -c | tail -n 50" % lines], {}),
        ("awk word counts", ["awk", "{n[$2]++; s[$2]=s[$2] substr($1,1,2)} END "
                             "{for (k in n) print k, n[k], length(s[k])}", lines], {}),
        ("sed rewrite", ["sed", "-E", "s/([0-9a-f]{4})([0-9a-f]+)/\\2-\\1/; /^f/d", lines], {}),
        ("xz -T2 round trip", ["bash", "-c", "head -c 3000000 %s | xz -T2 -3 -c | xz -dc | "
                                                "sha256sum" % lines], {}),
        ("tar of mm/", ["tar", "-c", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                        "--numeric-owner", "-C", TOP, "mm"], {}),
        ("git log --stat", ["git", "-C", TOP, "log", "--stat", "-n", "150",
                            "--format=%H %s", "HEAD"], {}),
    ]


def timed(fn):
    t0 = time.time()
    return fn(), time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--filter", default="")
    ap.add_argument("-v", action="store_true")
    o = ap.parse_args()
    for need in [LIB] + [os.path.join(HOST, "malloc_" + p) for p in ("torture", "badfree", "early")]:
        if not os.path.exists(need):
            print("libkmem: missing %s (make host-tools)" % need)
            print("libkmem: 0 passed, 1 failed")
            return 1
    with tempfile.TemporaryDirectory(prefix="libkmem-") as tmp:
        cases = [("torture (and threads beyond the slots share one)", torture_shared),
                 ("torture debug=all", lambda: torture("debug=all")),
                 ("torture nomagazine", lambda: torture("nomagazine")),
                 ("heap=16m full: 24 MiB of small blocks",
                  lambda: torture("heap=16m", ["--fill", "24"], "the heap (16 MiB) is full")),
                 ("100 serial threads: slots given back at exit", serial_threads),
                 ("big blocks: reused at once, never given back", lambda: big_frees("reuse")),
                 ("big blocks: left free, given back", lambda: big_frees("spread")),
                 ("big blocks: a freed range split by smaller ones is in use",
                  lambda: big_frees("split")),
                 ("options: unknown word, stats", options_unknown),
                 ("caches made on first use only (true, echo)", caches_made),
                 ("options: magstat, magsize, magazine sizes by buffer size", magstat_sizes),
                 ("options: bad values reported and ignored", options_bad_values),
                 ("start-up failure (heap=1g under ulimit -v) reported", start_failure),
                 ("malloc from preinit and the first constructor", early),
                 ("idle footprint within %d KiB (peak %d KiB)" % (
                     IDLE_BUDGET_KIB, IDLE_PEAK_BUDGET_KIB), idle_footprint),
                 ("text layout: cold mappings untouched, %d KiB in all" % LAYOUT_BUDGET_KIB,
                  text_layout)]
        cases += [("badfree %s%s" % (m, " " + o_ if o_ else ""),
                   (lambda m=m, o_=o_, w=w: badfree(m, o_, w))) for m, o_, w in BADFREE]
        cases += [("program: " + n, (lambda c=c, kw=kw: same_output(c, **kw)))
                  for n, c, kw in real_programs(tmp)]
        passed = failed = 0
        cases = [c for c in cases if o.filter in c[0]]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futs = [pool.submit(timed, fn) for _, fn in cases]
        for (name, _), fut in zip(cases, futs):
            why, secs = fut.result()
            took = " (%.1f s)" % secs if o.v else ""
            if why is None:
                passed += 1
                print("ok   %s%s" % (name, took), flush=True)
            else:
                failed += 1
                print("FAIL %s%s: %s" % (name, took, why), flush=True)
    print("libkmem: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
