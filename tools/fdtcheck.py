#!/usr/bin/env python3
"""fdtcheck.py - cross-check build/host/fdtinfo against an independent implementation.

    tools/fdtcheck.py [--fdtinfo PATH] [--mutate N] [--seed S] (--corpus DIR | FILE.dtb ...)

For every blob, computes the platform-map JSON of docs/fdtinfo.md here, in
Python, with python3-libfdt (pylibfdt) for tree access and a structure check of
its own, then runs fdtinfo on the same file and compares: both must reject the
blob (fdtinfo with exit 1 and exactly one stderr line "fdtinfo: FILE: ...") or
both must accept it with equal JSON (lists compared as multisets, since rows
with equal base may come in any order).  --mutate N also checks N corrupted
copies of each blob (truncations, header and byte flips) the same way.
Prints one line per failure and ends with "N passed, N failed"; exit status 1
when anything failed.  Nothing here shares code with kernel/plat*.c or
mm/zone_layout.c (the zones fdtinfo prints come from mm's page_zones_derive;
the rules are written again below).
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

try:
    import libfdt
except ImportError:  # pylibfdt is Debian's python3-libfdt, for /usr/bin/python3
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

MAX_HARTS, MAX_MEM, MAX_RESV, MAX_POOLS, MAX_NODES = 512, 128, 128, 16, 16
NAME_MAX, MODEL_MAX, MAX_DEPTH = 63, 127, 64
U64 = (1 << 64) - 1
PAGE = 4096
G4 = 1 << 32
BEGIN, END_NODE, PROP, NOP, END = 0x1, 0x2, 0x3, 0x4, 0x9


class Invalid(Exception):
    """The blob is not something fdtinfo must accept."""


def be32(b, off):
    return struct.unpack_from(">I", b, off)[0]


def num(b, off, ncells):
    """A big-endian number of ncells cells, keeping the low 64 bits."""
    v = 0
    for i in range(ncells):
        v = ((v << 32) | be32(b, off + 4 * i)) & U64
    return v


def check_structure(buf):
    """Header, blocks, reservation map and every structure tag; returns totalsize."""
    if len(buf) < 40:
        raise Invalid("short header")
    magic, total, off_st, off_str, off_rsv, ver, lcv, _boot, sz_str, sz_st = \
        struct.unpack_from(">10I", buf, 0)
    if magic != 0xD00DFEED:
        raise Invalid("magic")
    if ver < 17 or lcv > 17 or lcv > ver:
        raise Invalid("version")
    if total < 40 or total > 0x7FFFFFFF or total > len(buf):
        raise Invalid("totalsize")
    if off_st < 40 or off_st + sz_st > total or off_st % 4:
        raise Invalid("struct block")
    if off_str < 40 or off_str + sz_str > total:
        raise Invalid("strings block")
    if off_rsv < 40 or off_rsv > total or off_rsv % 8:
        raise Invalid("rsvmap offset")
    off = off_rsv
    while True:
        if off + 16 > total:
            raise Invalid("rsvmap unterminated")
        if num(buf, off + 8, 2) == 0:
            break
        off += 16
    st = bytes(buf[off_st:off_st + sz_st])
    strs = bytes(buf[off_str:off_str + sz_str])
    walk_tags(st, strs)
    return total


def walk_tags(st, strs):
    """Pure-Python walk of the structure block with the rules of docs/fdtinfo.md."""
    off, subs, root_done = 0, [], False
    while True:
        if off + 4 > len(st):
            raise Invalid("no FDT_END")
        tag = be32(st, off)
        if tag == BEGIN:
            nul = st.find(b"\0", off + 4)
            if nul < 0 or root_done or len(subs) >= MAX_DEPTH:
                raise Invalid("begin node")
            if subs:
                subs[-1] = True
            subs.append(False)
            off = (nul + 1 + 3) & ~3
        elif tag == PROP:
            if not subs or subs[-1] or off + 12 > len(st):
                raise Invalid("prop placement")
            ln, nameoff = be32(st, off + 4), be32(st, off + 8)
            if off + 12 + ln > len(st) or nameoff >= len(strs) or strs.find(b"\0", nameoff) < 0:
                raise Invalid("prop bounds")
            off = (off + 12 + ln + 3) & ~3
        elif tag == NOP:
            off += 4
        elif tag == END_NODE:
            if not subs:
                raise Invalid("unbalanced")
            subs.pop()
            root_done = root_done or not subs
            off += 4
        elif tag == END:
            if subs or not root_done:
                raise Invalid("early end")
            return
        else:
            raise Invalid("bad tag")


class Tree:
    """Read access through pylibfdt."""

    def __init__(self, blob):
        self.fdt = libfdt.Fdt(blob)
        self.q = (libfdt.NOTFOUND,)
        self.cache = {}

    def prop(self, off, name):
        # Not fdt.getprop(): pylibfdt 1.6.1 drops a reference to None on every
        # missing property and soon crashes.  Walk the properties instead.
        if off not in self.cache:
            props = {}
            b = self.fdt.as_bytearray()
            st, strs = self.fdt.off_dt_struct(), self.fdt.off_dt_strings()
            p = self.fdt.first_property_offset(off, self.q)
            while p >= 0:  # the raw property: names need not be UTF-8
                ln, nameoff = be32(b, st + p + 4), be32(b, st + p + 8)
                pname = bytes(b[strs + nameoff:b.index(0, strs + nameoff)]).decode("latin-1")
                props.setdefault(pname, bytes(b[st + p + 12:st + p + 12 + ln]))
                p = self.fdt.next_property_offset(p, self.q)
            self.cache[off] = props
        return self.cache[off].get(name)

    def children(self, off):
        c = self.fdt.first_subnode(off, self.q)
        while c >= 0:
            yield c
            c = self.fdt.next_subnode(c, self.q)

    def strings(self, off, name):
        """The NUL-terminated strings of a string list (an unterminated tail is not one)."""
        return (self.prop(off, name) or b"").split(b"\0")[:-1]

    def name(self, off):
        """A node's name as raw bytes, read straight from the structure block."""
        b = self.fdt.as_bytearray()
        start = self.fdt.off_dt_struct() + off + 4
        return bytes(b[start:b.index(0, start)])

    def first_str(self, off, name):
        v = self.prop(off, name)
        if v is None or b"\0" not in v:
            return None
        return v.split(b"\0")[0]

    def enabled(self, off):
        v = self.prop(off, "status")
        return v is None or self.first_str(off, "status") in (b"okay", b"ok")

    def cells(self, off, name, dflt):
        v = self.prop(off, name)
        if v is None:
            return dflt
        return be32(v, 0) if len(v) == 4 else -1

    def path_off(self, path):
        return self.fdt.path_offset(path, self.q)


class Parser:
    """The platform map computed from the contract's rules."""

    def __init__(self, tree):
        self.t = tree
        self.harts, self.memory, self.reserved, self.pools = [], [], [], []
        self.dma_limit = None
        self.dist = None  # dict (a, b) -> d once a map is found
        self.nodes_seen = set()

    def node_id(self, off):
        v = self.t.prop(off, "numa-node-id")
        if v is None:
            return None
        if len(v) != 4 or be32(v, 0) >= MAX_NODES:
            raise Invalid("numa-node-id")
        self.nodes_seen.add(be32(v, 0))
        return be32(v, 0)

    def reg(self, off, parent):
        """reg entries as (address, size, raw-ac) using the parent's cells."""
        v = self.t.prop(off, "reg")
        if v is None:
            return []
        ac = self.t.cells(parent, "#address-cells", 2)
        sc = self.t.cells(parent, "#size-cells", 1)
        if not (1 <= ac <= 2 and 0 <= sc <= 2):
            raise Invalid("reg cells")
        step = 4 * (ac + sc)
        if len(v) % step:
            raise Invalid("reg length")
        out = []
        for i in range(0, len(v), step):
            base, size = num(v, i, ac), num(v, i + 4 * ac, sc)
            if base + size > U64:
                raise Invalid("reg wraps")
            out.append((base, size))
        return out

    def memory_node(self, off, root):
        node = self.node_id(off)
        for base, size in self.reg(off, root):
            if size:
                self.memory.append((base, size, node))
        if len(self.memory) > MAX_MEM:
            raise Invalid("too many memory ranges")

    def cpu_node(self, off, cpus):
        node = self.node_id(off)
        regs = self.reg(off, cpus)
        if regs:
            self.harts.append((regs[0][0], node, self.t.enabled(off)))
        if len(self.harts) > MAX_HARTS:
            raise Invalid("too many harts")

    def resv_node(self, off, resv):
        raw = self.t.name(off)
        if len(raw) > NAME_MAX:
            raise Invalid("long name")
        name = raw.decode("latin-1")
        no_map = self.t.prop(off, "no-map") is not None
        pool = b"shared-dma-pool" in self.t.strings(off, "compatible")
        for base, size in self.reg(off, resv):
            if not size:
                continue
            self.reserved.append((base, size, name, no_map))
            if pool:
                reusable = self.t.prop(off, "reusable") is not None
                self.pools.append((base, size, name, reusable))
                pool = False
        if len(self.reserved) > MAX_RESV or len(self.pools) > MAX_POOLS:
            raise Invalid("too many reserved ranges")

    def shape(self, off, parent, prop):
        """(child, parent, size) cells of a ranges-like property, checked."""
        ca = self.t.cells(off, "#address-cells", 2)
        sz = self.t.cells(off, "#size-cells", 1)
        pa = self.t.cells(parent, "#address-cells", 2)
        if not (1 <= ca <= 4 and 1 <= pa <= 4 and 0 <= sz <= 4):
            raise Invalid("range cells")
        if len(prop) % (4 * (ca + pa + sz)):
            raise Invalid("range length")
        return ca, pa, sz

    def translate(self, addr, path):
        """Up through `ranges` of path[-1], path[-2], ... path[1]; None if impossible."""
        for i in range(len(path) - 1, 0, -1):
            r = self.t.prop(path[i], "ranges")
            if r is None:
                return None
            if not r:
                continue
            ca, pa, sz = self.shape(path[i], path[i - 1], r)
            step = 4 * (ca + pa + sz)
            for e in range(0, len(r), step):
                cb, pb = num(r, e, ca), num(r, e + 4 * ca, pa)
                size = num(r, e + 4 * (ca + pa), sz)
                if cb <= addr < cb + size:
                    addr = pb + (addr - cb)
                    if addr > U64:
                        return None
                    break
            else:
                return None
        return addr

    def dma_node(self, off, path):
        d = self.t.prop(off, "dma-ranges")
        if not d:
            return
        ca, pa, sz = self.shape(off, path[-1], d)
        step = 4 * (ca + pa + sz)
        ends = []
        for e in range(0, len(d), step):
            base, size = num(d, e + 4 * ca, pa), num(d, e + 4 * (ca + pa), sz)
            if not size:
                continue
            cpu = self.translate(base, path)
            if cpu is not None and cpu + size <= U64:
                ends.append(cpu + size)
        if ends and (self.dma_limit is None or max(ends) < self.dma_limit):
            self.dma_limit = max(ends)

    def distance_node(self, off):
        self.dist = {}
        m = self.t.prop(off, "distance-matrix")
        if m is None:
            return
        if len(m) % 12:
            raise Invalid("distance-matrix length")
        for e in range(0, len(m), 12):
            a, b, d = be32(m, e), be32(m, e + 4), be32(m, e + 8)
            if a >= MAX_NODES or b >= MAX_NODES or d > 255:
                raise Invalid("distance entry")
            self.dist[(a, b)] = d
            self.nodes_seen.update((a, b))

    def visit(self, off, path, enabled):
        """path: offsets of the ancestors, root first."""
        t = self.t
        if self.dist is None and b"numa-distance-map-v1" in t.strings(off, "compatible"):
            self.distance_node(off)
        if path:
            parent = path[-1]
            if len(path) == 1 and t.first_str(off, "device_type") == b"memory" and t.enabled(off):
                self.memory_node(off, parent)
            if parent == self.cpus and t.first_str(off, "device_type") == b"cpu":
                self.cpu_node(off, parent)
            if parent == self.resv and t.enabled(off):
                self.resv_node(off, parent)
            if enabled:
                self.dma_node(off, path)
        for c in t.children(off):
            self.visit(c, path + [off], enabled and t.enabled(c))

    def parse(self, buf):
        t = self.t
        model = t.prop(0, "model")
        if model is not None:
            if not model or model[-1] != 0 or len(model.split(b"\0")[0]) > MODEL_MAX:
                raise Invalid("model")
            model = model.split(b"\0")[0].decode("latin-1")
        off = be32(buf, 16)
        while num(buf, off + 8, 2):
            base, size = num(buf, off, 2), num(buf, off + 8, 2)
            if base + size > U64:
                raise Invalid("memreserve wraps")
            self.reserved.append((base, size, None, False))
            off += 16
        if len(self.reserved) > MAX_RESV:
            raise Invalid("too many reserved ranges")
        self.cpus, self.resv = t.path_off("/cpus"), t.path_off("/reserved-memory")
        self.visit(0, [], True)
        return self.result(model)

    def result(self, model):
        seen = self.nodes_seen | {n for _, n, _ in self.harts if n is not None}
        nnodes = max(seen) + 1 if seen else 1
        dist = None
        if self.dist is not None:
            dist = [[self.dist.get((a, b), self.dist.get((b, a), 10 if a == b else 20))
                     for b in range(nnodes)] for a in range(nnodes)]
        hx = hex
        return {
            "model": model,
            "harts": [{"hartid": h, "node": n, "enabled": e} for h, n, e in self.harts],
            "memory": [{"base": hx(b), "size": hx(s), "node": n} for b, s, n in self.memory],
            "reserved": [{"base": hx(b), "size": hx(s), "name": nm, "no_map": nmp}
                         for b, s, nm, nmp in self.reserved],
            "dma_pools": [{"base": hx(b), "size": hx(s), "name": nm, "reusable": r}
                          for b, s, nm, r in self.pools],
            "dma_limit": None if self.dma_limit is None else hx(self.dma_limit),
            "distance": dist,
            "zones": zones(self.memory, self.reserved, self.dma_limit),
        }


def zones(memory, reserved, dma_limit):
    """Usable pages per (node, zone), from the contract's definition."""
    dma_end = dma_limit & ~(PAGE - 1) if dma_limit is not None and dma_limit < G4 else 0
    bounds = [(0, dma_end, "DMA"), (dma_end, G4, "DMA32"), (G4, 1 << 64, "NORMAL")]
    resv = sorted((b, b + s) for b, s, _, _ in reserved)
    acc = {}
    covered = 0
    for base, size, node in sorted(memory, key=lambda m: (m[0], m[1], -1 if m[2] is None else m[2])):
        lo, hi = max(base, covered), base + size
        covered = max(covered, hi)
        pieces, cur = [], lo
        for rb, re_ in resv:
            if re_ <= cur or rb >= hi:
                continue
            if rb > cur:
                pieces.append((cur, rb))
            cur = max(cur, re_)
        if cur < hi:
            pieces.append((cur, hi))
        for a, b in pieces:
            a, b = -(-a // PAGE) * PAGE, b // PAGE * PAGE
            for zlo, zhi, zname in bounds:
                x, y = max(a, zlo), min(b, zhi)
                if x < y:
                    z = acc.setdefault((node or 0, zname), [x, y, 0])
                    z[0], z[1], z[2] = min(z[0], x), max(z[1], y), z[2] + (y - x) // PAGE
    return [{"node": n, "zone": zn, "base": hex(b), "end": hex(e), "pages": p}
            for (n, zn), (b, e, p) in sorted(acc.items(), key=lambda kv: kv[1][0])]


def expected(buf):
    """The JSON object for a blob, or Invalid."""
    total = check_structure(buf)
    return Parser(Tree(bytes(buf[:total]))).parse(buf)


def canon(obj):
    """Lists compared as multisets: sort every list of rows."""
    if isinstance(obj, dict):
        return {k: canon(v) for k, v in obj.items()}
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        return sorted((canon(x) for x in obj), key=lambda d: json.dumps(d, sort_keys=True))
    return obj


def run_fdtinfo(fdtinfo, path):
    p = subprocess.run([fdtinfo, path], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_one(fdtinfo, path, data):
    """None when fdtinfo agrees with us on `data` (stored at `path`), else a message."""
    try:
        want = expected(bytearray(data))
    except (Invalid, struct.error) as e:
        want = Invalid(str(e))
    except libfdt.FdtException as e:
        want = Invalid("libfdt: %s" % e)
    rc, out, err = run_fdtinfo(fdtinfo, path)
    if rc not in (0, 1) or (rc == 1 and out):
        return "fdtinfo exit %d: %s" % (rc, err.strip()[:300])
    if isinstance(want, Invalid):
        if rc == 0:
            return "fdtinfo accepted a blob the checker rejects (%s)" % want
        lines = err.splitlines()
        if len(lines) != 1 or not lines[0].startswith("fdtinfo: %s: " % path):
            return "bad error output: %r" % err
        return None
    if rc != 0:
        return "fdtinfo rejected a blob the checker accepts: %s" % err.strip()
    got = json.loads(out)
    if canon(got) != canon(want):
        diff = [k for k in want if canon(got.get(k)) != canon(want[k])]
        return "JSON differs in %s: fdtinfo %s / checker %s" % (
            diff, json.dumps({k: got.get(k) for k in diff})[:400],
            json.dumps({k: want[k] for k in diff})[:400])
    return None


def mutations(data, n, rng):
    """n corrupted copies: truncations, header word changes, byte flips in the blob."""
    total = min(len(data), be32(data, 4)) if len(data) >= 8 else len(data)
    for _ in range(n):
        b = bytearray(data[:max(total, 40)])
        kind = rng.randrange(4)
        if kind == 0:
            b = b[:rng.randrange(len(b))]
        elif kind == 1 and len(b) >= 40:
            w = rng.randrange(10) * 4
            b[w:w + 4] = struct.pack(">I", rng.choice([0, 1, 16, 17, 40, len(b), 0xFFFFFFFF,
                                                       be32(b, w) + rng.randrange(-8, 9) & 0xFFFFFFFF]))
        else:
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        yield bytes(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fdtinfo", default=os.path.join(os.path.dirname(__file__), "..", "build", "host", "fdtinfo"))
    ap.add_argument("--corpus", help="directory of *.dtb")
    ap.add_argument("--mutate", type=int, default=0, help="corrupted copies per blob")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    files = list(a.files)
    if a.corpus:
        files += sorted(os.path.join(a.corpus, f) for f in os.listdir(a.corpus) if f.endswith(".dtb"))
    if not files:
        ap.error("no blobs given")
    rng = random.Random(a.seed)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            cases = [(path, data)]
            for i, m in enumerate(mutations(data, a.mutate, rng)):
                mp = os.path.join(tmp, "m%d.dtb" % i)
                with open(mp, "wb") as f:
                    f.write(m)
                cases.append((mp, m))
            for p, d in cases:
                msg = check_one(a.fdtinfo, p, d)
                if msg is None:
                    passed += 1
                    continue
                failed += 1
                label = path if p == path else "%s (mutation %s)" % (path, os.path.basename(p))
                print("FAIL %s: %s" % (label, msg))
                if p != path:
                    keep = os.path.join(os.path.dirname(a.fdtinfo), "fdtcheck-fail-%d.dtb" % failed)
                    with open(keep, "wb") as f:
                        f.write(d)
                    print("     kept as %s" % keep)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
