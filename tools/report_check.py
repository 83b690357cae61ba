#!/usr/bin/env python3
"""Check tools/report.py's page in a real headless browser (host check `report`).

    tools/report_check.py [--real] [--profile JSON] [--scale JSON] [--keep]

For the hand-written fixture tests/report/fixture.json (with
tests/report/scale-fixture.json), and for --profile JSON if given, or with
--real for the JSON of a short profiled stress run it makes (REAL_RUN;
`make test` uses --real; --scale defaults to none for it):

  1. renders report.html with Debian's chromium (--headless --dump-dom) and
     reads every element carrying data-k="SECTION/ROW/COLUMN" from the DOM
     the browser built;
  2. reads report.txt's tables and requires the same cell, with the same
     text, for every data-k on the page, and a data-k on the page for every
     number in the text tables;
  3. recomputes every number from the JSON itself (this file's own reading
     of the schema, sharing no code with report.py) and requires the shown
     value to equal it at the precision shown; rows must be in the promised
     order (functions, locks most first) and as many as promised;
  4. requires each plot's polylines to carry the stress ticks of the JSON and
     each existing flame graph to be linked;
  5. takes a screenshot (--screenshot, PNG decoded here with zlib) and
     requires it not blank, with at least LINE_PIXELS more pixels of the
     per-hart line colours than a screenshot of the page without its
     polylines; for the fixture also LINE_PIXELS of each of the first four
     harts' colours (its line was drawn, not only its legend and marks).

Then it checks that the check can fail: a copy of the fixture page with one
lock's contended count changed must give a mismatch, and bad input (no file,
not JSON, a key missing, a key of the wrong type, a tick without one count
per hart, a bad scale JSON) must make report.py exit 2 with a message
naming the key and leave an existing report untouched.

Prints one line per case and 'N passed, N failed'; exit 1 on any failure.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = os.path.join(TOP, "tools", "report.py")
FIXTURE = os.path.join(TOP, "tests", "report", "fixture.json")
SCALE_FIXTURE = os.path.join(TOP, "tests", "report", "scale-fixture.json")
WORK = os.path.join(TOP, "build", "report-check")
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
            "--hide-scrollbars", "--user-data-dir=" + os.path.join(WORK, "chromium-profile")]
# The per-hart plot's first colours (report.py draws cpu i in COLORS[i % 10]);
# no other part of the page uses them.
PLOT_COLORS = [(0x1f, 0x77, 0xb4), (0xd6, 0x27, 0x28), (0x2c, 0xa0, 0x2c), (0x94, 0x67, 0xbd)]
# A drawn line of the per-hart plot (2 px wide, 800 px across) gives well over
# this many pixels of its colour; its legend swatch and point marks give ~310.
LINE_PIXELS = 700
# The real run --real profiles: short, two harts, so that it stays cheap.
REAL_RUN = ["--smp", "2", "--mem", "512M", "--args", "stress=2", "--cache", "on"]
NUM_RE = re.compile(r"^-?\d+(\.\d+)?$")


class Checks:
    """Counts cases; a case passes when its list of problems is empty."""

    def __init__(self):
        self.passed = self.failed = 0

    def case(self, name, problems):
        if problems:
            self.failed += 1
            print("FAIL %s" % name)
            for p in problems[:12]:
                print("    " + p)
            if len(problems) > 12:
                print("    ... %d more" % (len(problems) - 12))
        else:
            self.passed += 1
            print("ok   %s" % name)


# ------------------------------------------------------------------ reading the DOM

class DomReader(html.parser.HTMLParser):
    """Collects data-k cells, row order per table, polylines and flame links."""

    def __init__(self):
        super().__init__()
        self.cells, self.order, self.lines, self.flames = {}, {}, {}, []
        self.table, self.key, self.text = None, None, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-section" in a:
            self.table = a["data-section"]
            self.order.setdefault(self.table, [])
        elif tag == "tr" and "data-row" in a and self.table:
            self.order[self.table].append(a["data-row"])
        elif "data-k" in a:
            self.key, self.text = a["data-k"], ""
        elif tag == "polyline" and "data-series" in a:
            self.lines[a["data-series"]] = a.get("data-values", "")
        elif tag == "a" and "flame" in (a.get("class") or "").split():
            self.flames.append((a.get("data-cpu"), a.get("href")))

    def handle_data(self, data):
        if self.key is not None:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        elif tag == "td" and self.key is not None:
            if self.key in self.cells:
                self.cells[self.key + "#dup"] = self.text.strip()
            self.cells[self.key] = self.text.strip()
            self.key = None


def dump_dom(page):
    """The DOM chromium built for the page, serialised (None, message on failure)."""
    try:
        p = subprocess.run(CHROMIUM + ["--dump-dom", "file://" + page],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=90)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "chromium --dump-dom: %s" % e
    if p.returncode != 0 or b"<body" not in p.stdout:
        return None, "chromium --dump-dom exit %d, %d bytes" % (p.returncode, len(p.stdout))
    return p.stdout.decode("utf-8", "replace"), None


def read_dom(page):
    text, err = dump_dom(page)
    if err:
        return None, err
    r = DomReader()
    r.feed(text)
    return r, None


# ------------------------------------------------------------------ reading the text

def read_text(path):
    """{SECTION/ROW/COLUMN: text} for every cell of report.txt, plus row order.

    A section starts '== NAME: title ==', an optional '# note', a header row;
    columns are separated by two or more spaces, and a table's row key is its
    first column (layers: 'cpu.layer')."""
    cells, order, sec, header = {}, {}, None, None
    for line in open(path).read().splitlines():
        m = re.match(r"^== (\w+): .* ==$", line)
        if m:
            sec, header = m.group(1), None
            order[sec] = []
            continue
        if sec is None or not line.strip() or line.startswith("#") or line == "(none)":
            continue
        parts = re.split(r"\s{2,}", line.strip())
        if header is None:
            header = parts
            continue
        row = parts[0] if sec != "layers" else "%s.%s" % (parts[0], parts[1])
        order[sec].append(row)
        for col, val in zip(header, parts):
            cells["%s/%s/%s" % (sec, row, col)] = val
    return cells, order


def compare_dom_text(dom, text_cells):
    """Every page number equals its text cell and every text number is on the page."""
    probs = []
    for k, v in dom.cells.items():
        if k.endswith("#dup"):
            probs.append("page: data-k %s appears twice" % k[:-4])
        elif k not in text_cells:
            probs.append("page %s=%s: no such cell in report.txt" % (k, v))
        elif text_cells[k] != v:
            probs.append("page %s=%s, report.txt says %s" % (k, v, text_cells[k]))
    for k, v in text_cells.items():
        col = k.rsplit("/", 1)[1]
        if NUM_RE.match(v) and k not in dom.cells and not k.startswith(("run/result", "flame/")) \
                and col not in ("function", "lock", "line", "run", "symbol", "writers"):
            probs.append("report.txt %s=%s is not on the page" % (k, v))
    return probs


# ------------------------------------------------------------------ the JSON's own numbers

def ratio(a, b):
    return 100.0 * a / b if b else 0.0


def expected_cells(prof, scale):
    """{SECTION/ROW/COLUMN: value} computed from the JSON, independently of report.py."""
    e = {}
    st, cfg = prof["stress"], prof["config"]
    totals = [t["total"] for t in st["ticks"]]
    e["run/smp/value"], e["run/numa/value"], e["run/seed/value"] = cfg["smp"], cfg["numa"], st["seed"]
    e["run/seconds/value"] = len(st["ticks"])
    if totals:
        e["run/mean_ops_per_s/value"] = sum(totals) / float(len(totals))
    for t in st["ticks"]:
        r = "ticks/%d/" % round(t["t"])
        e[r + "t"], e[r + "total"] = t["t"], t["total"]
        for c, v in enumerate(t["per_hart"]):
            e[r + "cpu%d" % c] = v
    for h in prof["harts"]:
        r = "harts/%d/" % h["cpu"]
        for k in ("cpu", "insns", "atomics", "work", "idle", "spin", "firmware"):
            e[r + k] = h[k]
        for k in ("work", "idle", "spin", "firmware"):
            e[r + k + "%"] = ratio(h[k], h["insns"])
    expected_layers(prof, e)
    expected_rest(prof, scale, e)
    return e


def expected_layers(prof, e):
    """levels/ (all harts) and layers/ (per hart) cells."""
    all_ops = sum(x["ops"] for x in prof["layers"])
    for name in {x["layer"] for x in prof["layers"]}:
        rows = [x for x in prof["layers"] if x["layer"] == name]
        ops = sum(x["ops"] for x in rows)
        r = "levels/%s/" % name
        e[r + "ops"], e[r + "served%"] = ops, ratio(ops, all_ops)
        for col, key in (("insns/op", "insns_per_op"), ("atomics/op", "atomics_per_op")):
            have = [x for x in rows if x["ops"] and x[key] is not None]
            n = sum(x["ops"] for x in have)
            e[r + col] = sum(x["ops"] * x[key] for x in have) / float(n) if n else None
    for x in prof["layers"]:
        cpu_ops = sum(y["ops"] for y in prof["layers"] if y["cpu"] == x["cpu"])
        r = "layers/%d.%s/" % (x["cpu"], x["layer"])
        e[r + "cpu"], e[r + "ops"], e[r + "served%"] = x["cpu"], x["ops"], ratio(x["ops"], cpu_ops)
        e[r + "insns/op"] = x["insns_per_op"] if x["ops"] else None
        e[r + "atomics/op"] = x["atomics_per_op"] if x["ops"] else None


def expected_rest(prof, scale, e):
    """Functions, locks, cache, false sharing and scale cells."""
    total = sum(h["insns"] for h in prof["harts"])
    for f in prof["functions"]:
        for by in ("self", "incl"):
            r = "fn_%s/%s/" % (by, f["name"])
            e[r + "self"], e[r + "incl"], e[r + by + "%"] = f["self"], f["incl"], ratio(f[by], total)
    for lk in prof["locks"]:
        r = "locks/%s/" % (lk["name"] + (" (rank %d)" % lk["rank"] if "rank" in lk else "") +
                           (" " + lk["addr"] if "addr" in lk else ""))
        for k in ("acquires", "contended", "spins", "max_wait", "wait_sum"):
            e[r + k] = lk[k]
        e[r + "contended%"] = ratio(lk["contended"], lk["acquires"])
        e[r + "spins/contended"] = lk["spins"] / float(lk["contended"]) if lk["contended"] else 0.0
    for c in prof["cache"]:
        r = "cache/%d/" % c["cpu"]
        e[r + "cpu"], e[r + "accesses"], e[r + "misses"] = c["cpu"], c["accesses"], c["misses"]
        e[r + "miss%"], e[r + "misses/op"] = ratio(c["misses"], c["accesses"]), c["misses_per_op"]
    for fs in prof["false_sharing"]:
        e["false_sharing/%s/harts" % fs["line"]] = fs["harts"]
        e["false_sharing/%s/writes" % fs["line"]] = fs["writes"]
    runs = (scale or {}).get("runs", [])
    for i, run in enumerate(runs):
        name = "%d-%s-%s-%s" % (run["harts"], run["mem"], run.get("board") or "virt",
                                "on" if run["magazines"] else "off")
        again = sum(1 for x in runs[:i] if (x["harts"], x["mem"], x.get("board") or "virt",
                                            x["magazines"]) ==
                    (run["harts"], run["mem"], run.get("board") or "virt", run["magazines"]))
        r = "scale/%s/" % (name + ("-%d" % (again + 1) if again else ""))
        e[r + "harts"] = run["harts"]
        for col, key in (("ops/s", "ops_per_s"), ("boot_s", "boot_s"),
                         ("mm_init_ms", "mm_init_ms"), ("load", "load")):
            e[r + col] = run.get(key)
        ops = run.get("ops_per_s")
        e[r + "ops/s/hart"] = ops / float(run["harts"]) if ops is not None else None


def close(shown, want):
    """True if the shown text is want rounded to the shown number of decimals."""
    if want is None:
        return shown == "-"
    if not NUM_RE.match(shown):
        return False
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown) - want) <= 0.5 * 10 ** -decimals + 1e-9 * abs(want)


def compare_dom_json(dom, want):
    probs = []
    for k, v in dom.cells.items():
        if k.endswith("#dup"):
            continue
        if k not in want:
            probs.append("page %s=%s: the JSON has no such number" % (k, v))
        elif not close(v, want[k]):
            probs.append("page %s=%s, the JSON gives %r" % (k, v, want[k]))
    return probs


def compare_order(dom, prof):
    """Rows sorted and counted as promised (functions, locks, layers per cpu)."""
    probs = []
    for sec, by, limit in (("fn_self", "self", 25), ("fn_incl", "incl", 25)):
        vals = [int(dom.cells["%s/%s/%s" % (sec, r, by)]) for r in dom.order.get(sec, [])]
        if vals != sorted(vals, reverse=True):
            probs.append("%s not sorted by %s: %s" % (sec, by, vals[:8]))
        best = sorted((f[by] for f in prof["functions"]), reverse=True)[:limit]
        if vals != best:
            probs.append("%s shows %s, the JSON's top %d are %s" % (sec, vals[:6], limit, best[:6]))
    cont = [int(dom.cells["locks/%s/contended" % r]) for r in dom.order.get("locks", [])]
    best = sorted((lk["contended"] for lk in prof["locks"]), reverse=True)[:20]
    if cont != best:
        probs.append("locks: contended column %s, the JSON's top 20 are %s" % (cont[:6], best[:6]))
    if len(dom.order.get("layers", [])) != len(prof["layers"]):
        probs.append("layers: %d rows for %d in the JSON" % (len(dom.order.get("layers", [])),
                                                            len(prof["layers"])))
    return probs


def compare_plots(dom, prof, json_dir):
    """Polylines carry the ticks; each existing flame graph is linked."""
    probs = []
    ticks = prof["stress"]["ticks"]
    want = {"total": [t["total"] for t in ticks]}
    for c in range(len(prof["harts"])):
        want["cpu%d" % c] = [t["per_hart"][c] for t in ticks]
    for name, vals in want.items():
        got = dom.lines.get(name)
        if got is None:
            probs.append("plot: no polyline for %s" % name)
        elif [int(v) for v in got.split()] != vals:
            probs.append("plot %s: %s, the JSON has %s" % (name, got[:60], vals[:6]))
    exist = sorted(str(c) for c, f in prof["flame"].items()
                   if os.path.exists(os.path.join(json_dir, f)))
    if sorted(c for c, _ in dom.flames) != exist:
        probs.append("flame links for cpus %s, files exist for %s" %
                     (sorted(c for c, _ in dom.flames), exist))
    return probs


# ------------------------------------------------------------------ the screenshot

def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError("PNG depth %d colour type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    return w, h, unfilter(raw, w, h, bpp), bpp


def unfilter(raw, w, h, bpp):
    """Undo the PNG row filters; returns one bytearray per row."""
    stride, prev, rows = w * bpp, bytearray(w * bpp), []
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return rows


def shoot(page, shot, ncolors):
    """Screenshot a page; returns (width, height, non-white pixels, pixels near
    each of the first ncolors plot colours)."""
    subprocess.run(CHROMIUM + ["--screenshot=" + shot, "--window-size=1000,1400",
                               "file://" + page], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=90)
    w, h, rows, bpp = png_pixels(shot)
    near, ink = [0] * ncolors, 0
    for row in rows:
        for i in range(0, len(row), bpp):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if (r, g, b) == (255, 255, 255):
                continue
            ink += 1
            for j, c in enumerate(PLOT_COLORS[:ncolors]):
                if abs(r - c[0]) + abs(g - c[1]) + abs(b - c[2]) <= 60:
                    near[j] += 1
    return w, h, ink, near


def check_screenshot(page, shot, ncolors, per_colour):
    """The page's screenshot is not blank, and has at least LINE_PIXELS more
    pixels of the per-hart colours than a copy of the page without its
    polylines (so the lines were drawn).  per_colour (the fixture, whose
    lines do not overlap): each hart's colour alone must have LINE_PIXELS."""
    bare = page[:-5] + "-nolines.html"
    with open(bare, "w") as f:
        f.write(re.sub(r"<polyline[^>]*>", "", open(page).read()))
    try:
        w, h, ink, near = shoot(page, shot, ncolors)
        _, _, _, base = shoot(bare, shot[:-4] + "-nolines.png", ncolors)
    except (OSError, ValueError, subprocess.TimeoutExpired, zlib.error) as e:
        return ["screenshot %s: %s" % (shot, e)]
    probs = []
    if ink < w * h // 100:
        probs.append("screenshot %dx%d has %d non-white pixels (blank page?)" % (w, h, ink))
    if sum(near) - sum(base) < LINE_PIXELS:
        probs.append("screenshot: %d pixels of the per-hart colours, %d without the lines: "
                     "want %d more (lines not drawn?)" % (sum(near), sum(base), LINE_PIXELS))
    for j, c in enumerate(PLOT_COLORS[:ncolors] if per_colour else []):
        if near[j] < LINE_PIXELS:
            probs.append("screenshot: %d pixels of cpu%d's colour #%02x%02x%02x, want %d "
                         "(its line not drawn?)" % ((near[j], j) + c + (LINE_PIXELS,)))
    print("     screenshot %s: %dx%d, %d non-white pixels, per-hart colours %s, %s without "
          "lines" % (shot, w, h, ink, near, base))
    return probs


# ------------------------------------------------------------------ cases

def render(json_path, scale, outdir):
    """Run report.py; returns (exit status, output)."""
    cmd = [sys.executable, REPORT, json_path, "--outdir", outdir, "--quiet",
           "--scale", scale or ""]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def check_page(ck, name, json_path, scale, outdir):
    """Render one JSON and run every comparison on it."""
    status, out = render(json_path, scale, outdir)
    ck.case(name + ": report.py writes the page", [] if status == 0 else
            ["report.py exit %d: %s" % (status, out.strip()[-300:])])
    if status:
        return
    page = os.path.join(outdir, "report.html")
    dom, err = read_dom(page)
    ck.case(name + ": chromium renders the DOM", [err] if err else
            [] if len(dom.cells) > 20 else ["only %d numbers on the page" % len(dom.cells)])
    if err:
        return
    prof = json.load(open(json_path))
    sc = json.load(open(scale)) if scale else None
    text_cells, _ = read_text(os.path.join(outdir, "report.txt"))
    ck.case(name + ": page numbers equal report.txt (%d cells)" % len(dom.cells),
            compare_dom_text(dom, text_cells))
    ck.case(name + ": page numbers equal the JSON", compare_dom_json(dom, expected_cells(prof, sc)))
    ck.case(name + ": rows in the promised order", compare_order(dom, prof))
    ck.case(name + ": plots and flame links", compare_plots(dom, prof,
                                                            os.path.dirname(json_path)))
    ck.case(name + ": screenshot not blank, plots drawn",
            check_screenshot(page, os.path.join(outdir, "shot.png"),
                             min(len(prof["harts"]), len(PLOT_COLORS)), name == "fixture"))


def check_detects_change(ck, outdir):
    """A page with one number changed must fail the page-versus-text comparison."""
    if not os.path.exists(os.path.join(outdir, "report.html")):
        ck.case("self-test: a changed number is caught", ["the fixture page was not written"])
        return
    src = open(os.path.join(outdir, "report.html")).read()
    m = re.search(r'(data-k="locks/[^"]*/contended">)(\d+)<', src)
    if not m:
        ck.case("self-test: a changed number is caught", ["no lock row on the fixture page"])
        return
    bad = src[:m.start(2)] + str(int(m.group(2)) + 1) + src[m.end(2):]
    page = os.path.join(outdir, "changed.html")
    open(page, "w").write(bad)
    dom, err = read_dom(page)
    if err:
        ck.case("self-test: a changed number is caught", [err])
        return
    text_cells, _ = read_text(os.path.join(outdir, "report.txt"))
    a = compare_dom_text(dom, text_cells)
    b = compare_dom_json(dom, expected_cells(json.load(open(FIXTURE)),
                                             json.load(open(SCALE_FIXTURE))))
    ck.case("self-test: a changed number is caught (text and JSON)",
            [] if len(a) == 1 and len(b) == 1 else
            ["expected one mismatch each, got %d and %d" % (len(a), len(b))])


def bad_inputs():
    """(case name, how to damage the fixture, what the message must contain)."""
    def drop(key):
        return lambda p: p.pop(key)
    return [
        ("missing key 'locks'", drop("locks"), "no key 'locks'"),
        ("lock without 'spins'", lambda p: p["locks"][0].pop("spins"), "locks[0] has no key 'spins'"),
        ("harts[1].spin a string", lambda p: p["harts"][1].__setitem__("spin", "12"),
         "harts[1].spin"),
        ("tick with 3 counts for 4 harts", lambda p: p["stress"]["ticks"][2]["per_hart"].pop(),
         "stress.ticks[2].per_hart"),
        ("config not an object", lambda p: p.__setitem__("config", [1]), "'config' is not a dict"),
    ]


def check_bad_input(ck):
    """Each bad input: exit 2, a message naming the key, the old report untouched."""
    d = os.path.join(WORK, "bad")
    os.makedirs(d, exist_ok=True)
    for f in ("report.html", "report.txt"):
        open(os.path.join(d, f), "w").write("earlier report\n")
    cases = [("no such file", os.path.join(d, "nonexistent.json"), None, "cannot read"),
             ("not JSON", os.path.join(d, "garbage.json"), None, "not JSON")]
    open(cases[1][1], "w").write("{ not json")
    for name, damage, msg in bad_inputs():
        prof = json.load(open(FIXTURE))
        damage(prof)
        path = os.path.join(d, re.sub(r"\W+", "_", name) + ".json")
        json.dump(prof, open(path, "w"))
        cases.append((name, path, None, msg))
    badscale = os.path.join(d, "badscale.json")
    json.dump({"runs": [{"harts": 4, "mem": "1G", "magazines": "yes", "result": "passed"}]},
              open(badscale, "w"))
    cases.append(("scale run with magazines 'yes'", FIXTURE, badscale, "runs[0].magazines"))
    for name, path, scale, msg in cases:
        status, out = render(path, scale, d)
        probs = []
        if status != 2:
            probs.append("exit %d, want 2" % status)
        if msg not in out or "nothing written" not in out:
            probs.append("message %r lacks %r" % (out.strip(), msg))
        for f in ("report.html", "report.txt"):
            if open(os.path.join(d, f)).read() != "earlier report\n":
                probs.append("%s was overwritten" % f)
        ck.case("bad input: %s" % name, probs)


def real_profile(ck):
    """Profile REAL_RUN with tools/profile.py; returns its JSON path or None."""
    out = os.path.join(WORK, "real")
    cmd = [sys.executable, os.path.join(TOP, "tools", "profile.py"), "--no-report",
           "--outdir", out, "--timeout", "240"] + REAL_RUN
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        text = p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        text = "tools/profile.py timed out"
    path = os.path.join(out, "profile.json")
    ok = os.path.exists(path) and "stress" in json.load(open(path))
    ck.case("real run: %s writes profile.json" % " ".join(REAL_RUN),
            [] if ok else ["no profile.json: " + text.strip()[-400:]])
    return path if ok else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", help="also check the page of this profile JSON")
    ap.add_argument("--real", action="store_true",
                    help="also profile a short stress run (REAL_RUN) and check its page")
    ap.add_argument("--scale", default="", help="scaling JSON for --profile")
    ap.add_argument("--keep", action="store_true", help="keep build/report-check/ as it was")
    o = ap.parse_args()
    if not o.keep and os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK, exist_ok=True)
    ck = Checks()
    if shutil.which("chromium") is None:
        ck.case("chromium installed", ["chromium not found (run tools/deps.sh)"])
    else:
        fixdir = os.path.join(WORK, "fixture")
        check_page(ck, "fixture", FIXTURE, SCALE_FIXTURE, fixdir)
        check_detects_change(ck, fixdir)
        if o.real:
            o.profile = real_profile(ck)
        if o.profile:
            check_page(ck, "profile", os.path.abspath(o.profile), o.scale or None,
                       os.path.join(WORK, "profile"))
    check_bad_input(ck)
    print("%d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
