#!/usr/bin/env python3
"""One self-contained HTML page and a text report for one profile run.

    tools/report.py [PROFILE_JSON] [--scale SCALE_JSON] [--outdir DIR] [--quiet]

Reads the profile JSON that tools/profile.py writes (build/profile/profile.json,
schema in docs/profiling.md and the issue-9 interface notes) and, when it
exists, the scaling JSON that tools/scale.py --stress writes
(build/scale/scale.json), and writes next to the profile JSON (or in --outdir):

  report.html   one page, no network, no scripts: inline CSS, inline SVG
                plots; the per-hart flame graphs are linked and shown as images
  report.txt    the same numbers as plain text tables (also printed unless
                --quiet)

Every number on the page sits in an element carrying data-k="SECTION/ROW/COLUMN"
and the text report prints the same SECTION table with the same ROW and
COLUMN names and the same formatted value, so tools/report_check.py can
compare the page a browser rendered with the text and with the JSON.

Sections (both outputs, in this order): run (configuration and stress
result), ticks (ops/s per hart per second), harts (work / idle / spin /
firmware instructions), levels (layers summed over harts: ops, share of
the hart's requests each level served, instructions and atomics per op),
layers (the same per hart), fn_self and fn_incl (top functions by exclusive
and inclusive instructions), locks (most contended first), cache (L1 misses
per op per hart), false_sharing, flame (the per-hart flame graph files) and
scale (stress throughput against harts and memory, magazines on and off).

Bad input (no file, not JSON, a key of the schema missing or of the wrong
type) gives one line naming the file and the key, exit status 2, and leaves
any earlier report.html / report.txt untouched (both are written to temporary
files and renamed only when both are complete).
"""
import argparse
import html
import json
import math
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join(TOP, "build", "profile", "profile.json")
DEFAULT_SCALE = os.path.join(TOP, "build", "scale", "scale.json")
LAYERS = ["magazine", "depot", "slab", "pcp", "buddy", "vmem"]
TOP_FUNCS = 25          # rows of each function table
TOP_LOCKS = 20          # rows of the lock table (lockstat's top 20)
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
TOTAL_COLOR = "#000000"
SPLIT_COLORS = {"work": "#98df8a", "idle": "#c7c7c7", "spin": "#ff9896", "firmware": "#aec7e8"}

class Maybe:
    """A schema type: a number, or null where the profiler had nothing to divide
    by (a layer with 0 ops); shown as '-'."""
    __name__ = "number or null"


# The schema (issue-9 interface D): key -> type, for lists the row keys.
# A key added by tools/profile.py is ignored; one missing here is an error.
SCHEMA = {
    "config": (dict, {"smp": int, "mem": str, "board": str, "numa": int, "args": str}),
    "harts": (list, {"cpu": int, "insns": int, "atomics": int, "work": int, "idle": int,
                     "spin": int, "firmware": int}),
    "functions": (list, {"name": str, "self": int, "incl": int}),
    "layers": (list, {"cpu": int, "layer": str, "ops": int, "insns_per_op": Maybe,
                      "atomics_per_op": Maybe}),
    "locks": (list, {"name": str, "acquires": int, "contended": int, "spins": int,
                     "max_wait": int, "wait_sum": int}),
    "cache": (list, {"cpu": int, "accesses": int, "misses": int, "misses_per_op": Maybe}),
    "false_sharing": (list, {"line": str, "harts": int, "writes": int, "symbol": str,
                             "writers": list}),
    "stress": (dict, {"seed": int, "ticks": list, "result": str}),
    "flame": (dict, None),
    "text": (str, None),
}
SCALE_RUN = {"harts": int, "mem": str, "magazines": bool, "result": str}



class BadInput(Exception):
    """A file that cannot be reported on; the message names the file and the key."""


# ------------------------------------------------------------------ input

def type_ok(value, want):
    """True if value has type want (an int is a valid float, a bool never a number)."""
    if want is Maybe:
        return value is None or type_ok(value, float)
    if isinstance(value, bool):
        return want is bool
    if want is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, want)


def check_fields(path, where, row, fields):
    """Raise BadInput unless row is a dict with every field of the right type."""
    if not isinstance(row, dict):
        raise BadInput("%s: %s is not an object" % (path, where))
    for key, want in fields.items():
        if key not in row:
            raise BadInput("%s: %s has no key '%s'" % (path, where, key))
        if not type_ok(row[key], want):
            raise BadInput("%s: %s.%s is %r, not %s" % (path, where, key, row[key],
                                                        want.__name__))


def check_ticks(path, stress, nharts):
    """Each stress tick has t, total and one per_hart count per hart."""
    for i, tick in enumerate(stress["ticks"]):
        where = "stress.ticks[%d]" % i
        check_fields(path, where, tick, {"t": float, "total": int, "per_hart": list})
        if len(tick["per_hart"]) != nharts or not all(type_ok(v, int) for v in tick["per_hart"]):
            raise BadInput("%s: %s.per_hart is not %d integers (one per hart)" %
                           (path, where, nharts))


def load_json(path):
    """Parse a JSON file, turning every failure into BadInput."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise BadInput("%s: cannot read: %s" % (path, e.strerror))
    except ValueError as e:
        raise BadInput("%s: not JSON: %s" % (path, e))


def load_profile(path):
    """The profile JSON, checked against SCHEMA."""
    prof = load_json(path)
    if not isinstance(prof, dict):
        raise BadInput("%s: the top level is not an object" % path)
    for key, (want, fields) in SCHEMA.items():
        if key not in prof:
            raise BadInput("%s: no key '%s'" % (path, key))
        if not type_ok(prof[key], want):
            raise BadInput("%s: '%s' is not a %s" % (path, key, want.__name__))
        if fields and want is dict:
            check_fields(path, key, prof[key], fields)
        elif fields:
            for i, row in enumerate(prof[key]):
                check_fields(path, "%s[%d]" % (key, i), row, fields)
    check_ticks(path, prof["stress"], len(prof["harts"]))
    return prof


def load_scale(path):
    """The scaling JSON of tools/scale.py --stress, or None when there is none."""
    if path is None or not os.path.exists(path):
        return None
    sc = load_json(path)
    if not isinstance(sc, dict) or not isinstance(sc.get("runs"), list):
        raise BadInput("%s: no list 'runs'" % path)
    for i, run in enumerate(sc["runs"]):
        check_fields(path, "runs[%d]" % i, run, SCALE_RUN)
        for opt in ("ops_per_s", "boot_s", "mm_init_ms"):
            if run.get(opt) is not None and not type_ok(run[opt], float):
                raise BadInput("%s: runs[%d].%s is %r, not a number" % (path, i, opt, run[opt]))
    return sc


# ------------------------------------------------------------------ tables

def fmt(value, digits=None):
    """The one formatting of a number used by both outputs."""
    if value is None:
        return "-"
    if digits is None:
        return str(int(value))
    return "%.*f" % (digits, value)


def pct(part, whole):
    """part as a percentage of whole, 0 when whole is 0."""
    return 100.0 * part / whole if whole else 0.0


class Table:
    """One section: a title, column names, rows of (row key, cells).

    A cell is (column, text, numeric): numeric cells get a data-k on the page
    and are what the checker compares."""

    def __init__(self, section, title, columns, note=""):
        self.section, self.title, self.columns, self.note = section, title, columns, note
        self.rows = []

    def add(self, key, cells):
        self.rows.append((str(key), cells))


def run_table(prof):
    """Configuration and stress outcome."""
    t = Table("run", "Run", ["item", "value"])
    cfg, st = prof["config"], prof["stress"]
    ticks = st["ticks"]
    ops = [k["total"] for k in ticks]
    for item, val, num in [("smp", fmt(cfg["smp"]), True), ("mem", cfg["mem"], False),
                           ("board", cfg["board"] or "-", False), ("numa", fmt(cfg["numa"]), True),
                           ("args", cfg["args"] or "-", False), ("seed", fmt(st["seed"]), True),
                           ("seconds", fmt(len(ticks)), True),
                           ("mean_ops_per_s", fmt(sum(ops) / len(ops) if ops else None, 0), True),
                           ("result", st["result"], False)]:
        t.add(item, [("item", item, False), ("value", val, num)])
    return t


def ticks_table(prof):
    """ops/s per second: total and per hart."""
    n = len(prof["harts"])
    cols = ["t", "total"] + ["cpu%d" % c for c in range(n)]
    t = Table("ticks", "Stress ops/s per hart, every second", cols)
    for k in prof["stress"]["ticks"]:
        cells = [("t", fmt(k["t"], 0), True), ("total", fmt(k["total"]), True)]
        cells += [("cpu%d" % c, fmt(v), True) for c, v in enumerate(k["per_hart"])]
        t.add(fmt(k["t"], 0), cells)
    return t


def harts_table(prof):
    """Where each hart's instructions went."""
    t = Table("harts", "Per hart: work, idle, spin (guest instructions)",
              ["cpu", "insns", "atomics", "work", "idle", "spin", "firmware",
               "work%", "idle%", "spin%", "firmware%"],
              "work/idle/spin are kernel instructions by the profiler's classification; "
              "firmware is OpenSBI. Percentages are of the hart's instructions.")
    for h in sorted(prof["harts"], key=lambda h: h["cpu"]):
        cells = [("cpu", fmt(h["cpu"]), True)]
        cells += [(k, fmt(h[k]), True) for k in ("insns", "atomics", "work", "idle", "spin",
                                                   "firmware")]
        cells += [(k + "%", fmt(pct(h[k], h["insns"]), 1), True)
                  for k in ("work", "idle", "spin", "firmware")]
        t.add(h["cpu"], cells)
    return t


def level_row(rows, total_ops):
    """Cells for one layer summed over rows (ops-weighted means per op over the
    rows that have a figure; '-' when none has)."""
    ops = sum(r["ops"] for r in rows)
    ipo, apo = weighted(rows, "insns_per_op"), weighted(rows, "atomics_per_op")
    return [("ops", fmt(ops), True), ("served%", fmt(pct(ops, total_ops), 1), True),
            ("insns/op", fmt(ipo, 1), True), ("atomics/op", fmt(apo, 2), True)]


def weighted(rows, key):
    """Mean of rows' key weighted by their ops, over rows with ops and a figure."""
    have = [r for r in rows if r[key] is not None and r["ops"] > 0]
    ops = sum(r["ops"] for r in have)
    return sum(r["ops"] * r[key] for r in have) / ops if ops else None


def layer_order(name):
    """Known layers in LAYERS order, any others after them by name."""
    return (LAYERS.index(name), "") if name in LAYERS else (len(LAYERS), name)


def levels_table(prof):
    """Each level over all harts."""
    t = Table("levels", "Allocator layers, all harts",
              ["layer", "ops", "served%", "insns/op", "atomics/op"],
              "served% = this level's share of every request counted at any level; "
              "per-op figures are means weighted by each hart's ops.")
    total = sum(r["ops"] for r in prof["layers"])
    for name in sorted({r["layer"] for r in prof["layers"]}, key=layer_order):
        rows = [r for r in prof["layers"] if r["layer"] == name]
        t.add(name, [("layer", name, False)] + level_row(rows, total))
    return t


def layers_table(prof):
    """Each level on each hart."""
    t = Table("layers", "Allocator layers per hart",
              ["cpu", "layer", "ops", "served%", "insns/op", "atomics/op"],
              "served% = share of this hart's requests.")
    per_cpu = {}
    for r in prof["layers"]:
        per_cpu.setdefault(r["cpu"], []).append(r)
    for cpu in sorted(per_cpu):
        total = sum(r["ops"] for r in per_cpu[cpu])
        for r in sorted(per_cpu[cpu], key=lambda r: layer_order(r["layer"])):
            cells = [("cpu", fmt(cpu), True), ("layer", r["layer"], False)]
            t.add("%d.%s" % (cpu, r["layer"]), cells + level_row([r], total))
    return t


def functions_table(prof, by):
    """Top functions by exclusive ("self") or inclusive ("incl") instructions."""
    total = sum(h["insns"] for h in prof["harts"])
    name = {"self": "exclusive", "incl": "inclusive"}[by]
    t = Table("fn_" + by, "Top functions by %s instructions (all harts)" % name,
              ["function", "self", "incl", by + "%"],
              "%% is of all instructions of all harts (%d)." % total)
    for f in sorted(prof["functions"], key=lambda f: (-f[by], f["name"]))[:TOP_FUNCS]:
        t.add(f["name"], [("function", f["name"], False), ("self", fmt(f["self"]), True),
                          ("incl", fmt(f["incl"]), True),
                          (by + "%", fmt(pct(f[by], total), 2), True)])
    return t


def lock_label(lk):
    """A lock's row name: its name, its rank when the JSON gives one (a
    cache's depot and slab locks share the cache's name; the rank tells them
    apart) and its address when the JSON gives one (two locks may share name
    and rank: the kmalloc_large cache's slab lock and kmalloc's hash lock)."""
    label = lk["name"]
    if isinstance(lk.get("rank"), int):
        label += " (rank %d)" % lk["rank"]
    if isinstance(lk.get("addr"), str):
        label += " " + lk["addr"]
    return label


def locks_table(prof):
    """The most contended locks."""
    t = Table("locks", "Top locks by contended acquisitions",
              ["lock", "acquires", "contended", "contended%", "spins", "spins/contended",
               "max_wait", "wait_sum"],
              "max_wait and wait_sum in %s." % prof.get("wait_unit", "rdtime ticks, the unit lockstat prints (10 MHz on QEMU virt)"))
    rows = sorted(prof["locks"], key=lambda l: (-l["contended"], -l["wait_sum"], l["name"]))
    for lk in rows[:TOP_LOCKS]:
        label = lock_label(lk)
        t.add(label, [("lock", label, False)] +
              [(k, fmt(lk[k]), True) for k in ("acquires", "contended")] +
              [("contended%", fmt(pct(lk["contended"], lk["acquires"]), 1), True),
               ("spins", fmt(lk["spins"]), True),
               ("spins/contended", fmt(lk["spins"] / lk["contended"] if lk["contended"]
                                       else 0.0, 1), True),
               ("max_wait", fmt(lk["max_wait"]), True), ("wait_sum", fmt(lk["wait_sum"]), True)])
    return t


def cache_table(prof):
    """L1 data cache model per hart."""
    t = Table("cache", "L1 data cache model per hart",
              ["cpu", "accesses", "misses", "miss%", "misses/op"])
    for c in sorted(prof["cache"], key=lambda c: c["cpu"]):
        t.add(c["cpu"], [("cpu", fmt(c["cpu"]), True), ("accesses", fmt(c["accesses"]), True),
                         ("misses", fmt(c["misses"]), True),
                         ("miss%", fmt(pct(c["misses"], c["accesses"]), 2), True),
                         ("misses/op", fmt(c["misses_per_op"], 3), True)])
    return t


def false_sharing_table(prof):
    """Cache lines written by more than one hart, most writes first."""
    t = Table("false_sharing", "Lines written by more than one hart",
              ["line", "harts", "writes", "symbol", "writers"])
    for fs in sorted(prof["false_sharing"], key=lambda f: (-f["writes"], f["line"])):
        t.add(fs["line"], [("line", fs["line"], False), ("harts", fmt(fs["harts"]), True),
                           ("writes", fmt(fs["writes"]), True),
                           ("symbol", fs["symbol"] or "-", False),
                           ("writers", ",".join(fs["writers"]) or "-", False)])
    return t


def flame_table(prof, json_dir, out_dir):
    """The per-hart flame graph files, relative to the output directory."""
    t = Table("flame", "Flame graphs per hart", ["cpu", "file", "exists"])
    for cpu in sorted(prof["flame"], key=lambda c: int(c) if str(c).isdigit() else 1 << 30):
        path = os.path.join(json_dir, prof["flame"][cpu])
        rel = os.path.relpath(path, out_dir)
        t.add(cpu, [("cpu", str(cpu), False), ("file", rel, False),
                    ("exists", "yes" if os.path.exists(path) else "missing", False)])
    return t


def scale_table(scale):
    """Stress throughput against harts and memory, magazines on and off."""
    t = Table("scale", "Scaling: stress throughput, magazines on and off",
              ["run", "harts", "mem", "board", "magazines", "ops/s", "ops/s/hart", "boot_s",
               "mm_init_ms", "load", "result"],
              scale.get("note", "") if scale else "no scale JSON: run tools/scale.py --stress")
    seen = {}
    for run in (scale or {}).get("runs", []):
        ops = run.get("ops_per_s")
        mag = "on" if run["magazines"] else "off"
        key = "%d-%s-%s-%s" % (run["harts"], run["mem"], run.get("board") or "virt", mag)
        seen[key] = seen.get(key, 0) + 1
        key += "" if seen[key] == 1 else "-%d" % seen[key]    # a configuration run again
        t.add(key, [("run", key, False), ("harts", fmt(run["harts"]), True),
                    ("mem", run["mem"], False), ("board", run.get("board") or "-", False),
                    ("magazines", mag, False), ("ops/s", fmt(ops, 0), True),
                    ("ops/s/hart", fmt(ops / run["harts"] if ops is not None else None, 0), True),
                    ("boot_s", fmt(run.get("boot_s"), 1), True),
                    ("mm_init_ms", fmt(run.get("mm_init_ms"), 1), True),
                    ("load", fmt(run.get("load"), 1), True), ("result", run["result"], False)])
    return t


def all_tables(prof, scale, json_dir, out_dir):
    return [run_table(prof), ticks_table(prof), harts_table(prof), levels_table(prof),
            layers_table(prof), functions_table(prof, "self"), functions_table(prof, "incl"),
            locks_table(prof), cache_table(prof), false_sharing_table(prof),
            flame_table(prof, json_dir, out_dir), scale_table(scale)]


# ------------------------------------------------------------------ text

def text_table(t):
    """A section as text: '== section: title ==', a header, rows; columns two spaces apart."""
    grid = [t.columns] + [[text for _, text, _ in cells] for _, cells in t.rows]
    width = [max(len(r[i]) for r in grid) for i in range(len(t.columns))]
    out = ["== %s: %s ==" % (t.section, t.title)]
    if t.note:
        out.append("# " + t.note)
    for r in grid:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, width)).rstrip())
    if not t.rows:
        out.append("(none)")
    return "\n".join(out)


def text_report(tables):
    return "\n\n".join(text_table(t) for t in tables) + "\n"


# ------------------------------------------------------------------ SVG

def nice_max(v):
    """The smallest 1, 2 or 5 times a power of ten at or above v (1 for v <= 0)."""
    if v <= 0:
        return 1
    p = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if m * p >= v:
            return m * p
    return 10 * p


def esc(s):
    return html.escape(str(s), quote=True)


def svg_axes(w, h, pad, ymax, xlabels, ylabel):
    """Frame, y grid with 5 labelled lines, x labels at the given (x, text) places."""
    out = ['<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' %
           (pad, 10, w - pad - 10, h - pad - 10)]
    for i in range(6):
        y = 10 + (h - pad - 10) * (5 - i) / 5.0
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' %
                   (pad, y, w - 10, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end" class="ax">%s</text>' %
                   (pad - 4, y + 4, esc(fmt(ymax * i / 5.0, 0))))
    for x, label in xlabels:
        out.append('<text x="%.1f" y="%d" text-anchor="middle" class="ax">%s</text>' %
                   (x, h - pad + 16, esc(label)))
    out.append('<text x="12" y="%d" class="ax" transform="rotate(-90 12 %d)">%s</text>' %
               (h // 2, h // 2, esc(ylabel)))
    return out


def svg_lines(plot_id, series, xs, xlabel, ylabel, w=900, h=320, xpos=None):
    """A line plot: series = [(name, color, values)] over xs (None = no point).

    Each polyline carries data-series and data-values (the plotted numbers)."""
    pad = 60
    ymax = nice_max(max([v for _, _, vals in series for v in vals if v is not None] or [0]))
    n = len(xs)
    place = xpos or (lambda i: i)
    span = max(place(n - 1) - place(0), 1) if n else 1
    px = [pad + (w - pad - 20) * (place(i) - place(0)) / span + 5 for i in range(n)]
    step = max(1, n // 12)
    out = ['<svg id="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" role="img">' % (plot_id, w, h + 18 * ((len(series) + 5) // 6),
                                                w, h + 18 * ((len(series) + 5) // 6))]
    out += svg_axes(w, h, pad, ymax, [(px[i], fmt(xs[i], 0) if isinstance(xs[i], (int, float))
                                       else xs[i]) for i in range(0, n, step)], ylabel)
    out.append('<text x="%d" y="%d" text-anchor="middle" class="ax">%s</text>' %
               ((w + pad) // 2, h - 8, esc(xlabel)))
    for si, (name, color, vals) in enumerate(series):
        pts = ["%.1f,%.1f" % (px[i], 10 + (h - pad - 10) * (1 - v / ymax))
               for i, v in enumerate(vals) if v is not None]
        out.append('<polyline fill="none" stroke="%s" stroke-width="%d" points="%s" '
                   'data-series="%s" data-values="%s"/>' %
                   (color, 3 if color == TOTAL_COLOR else 2, " ".join(pts), esc(name),
                    " ".join(fmt(v) if v is not None else "-" for v in vals)))
        for p in pts:
            x, y = p.split(",")
            out.append('<circle cx="%s" cy="%s" r="3" fill="%s"/>' % (x, y, color))
        lx, ly = pad + 140 * (si % 6), h + 4 + 18 * (si // 6)
        out.append('<rect x="%d" y="%d" width="14" height="10" fill="%s"/>'
                   '<text x="%d" y="%d" class="ax">%s</text>' %
                   (lx, ly, color, lx + 18, ly + 10, esc(name)))
    out.append("</svg>")
    return "\n".join(out)


def ticks_plot(prof):
    """ops/s per hart against seconds, then the total."""
    ticks = prof["stress"]["ticks"]
    xs = [k["t"] for k in ticks]
    total = [("total", TOTAL_COLOR, [k["total"] for k in ticks])]
    series = [("cpu%d" % c, COLORS[c % len(COLORS)], [k["per_hart"][c] for k in ticks])
              for c in range(len(prof["harts"]))]
    return (svg_lines("plot-ticks", series, xs, "seconds", "ops/s per hart") +
            svg_lines("plot-total", total, xs, "seconds", "ops/s, all harts", h=200))


def split_plot(prof):
    """One stacked bar per hart: shares of work, idle, spin and firmware."""
    harts = sorted(prof["harts"], key=lambda h: h["cpu"])
    w, row, pad = 900, 16, 60
    out = ['<svg id="plot-split" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">' %
           (w, row * len(harts) + 40)]
    for i, h in enumerate(harts):
        x, y = pad, 4 + i * row
        out.append('<text x="%d" y="%d" text-anchor="end" class="ax">cpu%d</text>' %
                   (pad - 4, y + 11, h["cpu"]))
        for k in ("work", "idle", "spin", "firmware"):
            bw = (w - pad - 20) * (h[k] / h["insns"] if h["insns"] else 0)
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" '
                       'data-part="%s"/>' % (x, y, bw, row - 3, SPLIT_COLORS[k], k))
            x += bw
    y = 10 + row * len(harts)
    for i, k in enumerate(("work", "idle", "spin", "firmware")):
        out.append('<rect x="%d" y="%d" width="14" height="10" fill="%s"/>'
                   '<text x="%d" y="%d" class="ax">%s</text>' %
                   (pad + 120 * i, y, SPLIT_COLORS[k], pad + 120 * i + 18, y + 10, k))
    out.append("</svg>")
    return "\n".join(out)


def scale_plots(scale):
    """ops/s against harts (log2 x) and against memory, one line per magazine setting."""
    runs = [r for r in (scale or {}).get("runs", []) if not r.get("board")]
    out = []
    for plot_id, axis, fixed, label in (("plot-scale-harts", "harts", "mem", "harts"),
                                        ("plot-scale-mem", "mem", "harts", "memory")):
        base = (scale or {}).get("hart_sweep_mem" if axis == "harts" else "mem_sweep_harts")
        sel = [r for r in runs if base is None or str(r[fixed]) == str(base)]
        xs = sorted({r[axis] for r in sel}, key=lambda v: mem_bytes(v) if axis == "mem" else v)
        if len(xs) < 2:
            continue
        series = []
        for mag, color in ((True, "#444444"), (False, "#ff7f0e")):
            vals = []
            for x in xs:
                hit = [r for r in sel if r[axis] == x and r["magazines"] == mag
                       and r.get("ops_per_s") is not None]
                vals.append(hit[0]["ops_per_s"] if hit else None)
            series.append(("magazines " + ("on" if mag else "off"), color, vals))
        xpos = (lambda i, xs=xs: math.log2(max(xs[i], 1))) if axis == "harts" else None
        out.append(svg_lines(plot_id, series, xs, label + " (%s %s)" % (fixed, base),
                             "stress ops/s", xpos=xpos))
    return "\n".join(out)


def mem_bytes(s):
    """'1G', '512M', '256G' in bytes (for ordering)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    s = str(s).upper().rstrip("B").rstrip("I")
    return int(float(s[:-1]) * units[s[-1]]) if s and s[-1] in units else int(float(s or 0))


# ------------------------------------------------------------------ HTML

CSS = """
body{font:14px/1.4 "DejaVu Sans",sans-serif;margin:16px 24px;color:#111;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin:24px 0 6px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:4px 0 8px}td,th{padding:1px 8px;border:1px solid #ddd;max-width:36em;overflow-wrap:anywhere}
td.n{text-align:right;font-family:"DejaVu Sans Mono",monospace}th{background:#f0f0f0}
.note{color:#555;font-size:12px}.ax{font-size:11px;fill:#333}
.flames img{width:100%;max-width:1100px;border:1px solid #ccc;margin:4px 0}
.bad{color:#b00;font-weight:bold}
"""


def html_table(t):
    """A section as an HTML table; numeric cells carry data-k=section/row/column."""
    out = ['<table id="t-%s" data-section="%s"><tr>%s</tr>' %
           (t.section, t.section, "".join("<th>%s</th>" % esc(c) for c in t.columns))]
    for key, cells in t.rows:
        tds = []
        for col, text, numeric in cells:
            if numeric:
                tds.append('<td class="n" data-k="%s">%s</td>' %
                           (esc("%s/%s/%s" % (t.section, key, col)), esc(text)))
            else:
                tds.append("<td>%s</td>" % esc(text))
        out.append('<tr data-row="%s">%s</tr>' % (esc(key), "".join(tds)))
    if not t.rows:
        out.append('<tr><td colspan="%d">(none)</td></tr>' % len(t.columns))
    out.append("</table>")
    return "\n".join(out)


def section(t, extra="", folded=False):
    """Heading, note, optional plot, table (folded into <details> if asked)."""
    note = '<p class="note">%s</p>' % esc(t.note) if t.note else ""
    body = html_table(t)
    if folded:
        body = "<details><summary>%d rows</summary>%s</details>" % (len(t.rows), body)
    return '<h2 id="s-%s">%s</h2>%s%s%s' % (t.section, esc(t.title), note, extra, body)


def flames_html(t):
    """Links to, and images of, the flame graphs that exist."""
    out = ['<div class="flames">']
    for key, cells in t.rows:
        rel, exists = cells[1][1], cells[2][1] == "yes"
        if exists:
            out.append('<p><a class="flame" data-cpu="%s" href="%s">cpu%s flame graph</a><br>'
                       '<img src="%s" alt="flame graph cpu%s"></p>' %
                       (esc(key), esc(rel), esc(key), esc(rel), esc(key)))
        else:
            out.append('<p class="bad">cpu%s: %s missing</p>' % (esc(key), esc(rel)))
    out.append("</div>")
    return "\n".join(out)


def html_report(prof, scale, tables):
    by = {t.section: t for t in tables}
    cfg, res = prof["config"], prof["stress"]["result"]
    title = "Profile: smp %d, %s%s, %s" % (cfg["smp"], cfg["mem"],
                                           (", " + cfg["board"]) if cfg["board"] else "",
                                           cfg["args"] or "no args")
    body = ["<h1>%s</h1>" % esc(title),
            '<p>stress result: <b id="result" class="%s">%s</b></p>' %
            ("" if res.startswith("passed") else "bad", esc(res)),
            section(by["run"]),
            section(by["ticks"], ticks_plot(prof), folded=len(by["ticks"].rows) > 30),
            section(by["harts"], split_plot(prof), folded=len(prof["harts"]) > 16),
            section(by["levels"]), section(by["layers"], folded=True),
            section(by["fn_self"]), section(by["fn_incl"]), section(by["locks"]),
            section(by["cache"], folded=len(prof["cache"]) > 16), section(by["false_sharing"]),
            section(by["flame"], flames_html(by["flame"])),
            section(by["scale"], scale_plots(scale))]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>%s</title><style>%s</style></head><body>\n%s\n</body></html>\n" %
            (esc(title), CSS, "\n".join(body)))


# ------------------------------------------------------------------ main

def write_both(out_dir, html_text, text):
    """Write report.html and report.txt through temporary files, renamed at the end."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, data in (("report.html", html_text), ("report.txt", text)):
        tmp = os.path.join(out_dir, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(data)
        paths.append((tmp, os.path.join(out_dir, name)))
    for tmp, final in paths:
        os.replace(tmp, final)
    return [p for _, p in paths]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="?", default=DEFAULT_JSON)
    ap.add_argument("--scale", default=DEFAULT_SCALE,
                    help="scaling JSON of tools/scale.py --stress ('' for none)")
    ap.add_argument("--outdir", help="default: the profile JSON's directory")
    ap.add_argument("--quiet", action="store_true", help="do not print the text report")
    o = ap.parse_args(argv)
    json_dir = os.path.dirname(os.path.abspath(o.json))
    out_dir = os.path.abspath(o.outdir or json_dir)
    try:
        prof = load_profile(o.json)
        scale = load_scale(o.scale or None)
    except BadInput as e:
        print("report: %s (nothing written)" % e, file=sys.stderr)
        return 2
    tables = all_tables(prof, scale, json_dir, out_dir)
    text = text_report(tables)
    paths = write_both(out_dir, html_report(prof, scale, tables), text)
    if not o.quiet:
        sys.stdout.write(text)
    print("report: %s" % "  ".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
