#!/usr/bin/env python3
"""Draw a flame graph from folded stacks, as one self-contained SVG.

    tools/flame.py FOLDED [-o OUT.svg] [--title TEXT] [--width PX]

FOLDED holds lines "f1;f2;...;fn COUNT" (the format Brendan Gregg's
flamegraph.pl reads; tools/profile.py writes build/profile/folded-cpu<N>.txt).
The SVG needs no script, font or file from the network: every frame is a
<rect> with a <title> (the browser's tooltip: name, count, share), and its
name is printed inside when it is wide enough.  The base of every stack is
at the bottom; a frame's width is its count (inclusive: its own count plus
its callees') times the scale, so the widths of the frames in the bottom row
sum to the total of the folded file.  Each frame's <g> carries data-name,
data-count and data-depth attributes, which tests read back.
"""

import argparse
import html
import sys
import zlib

ROW = 17            # pixels per stack level
PAD_TOP = 40        # room for the title
PAD_SIDE = 10
FONT = 11           # px; about 0.6 em per character in a monospace face


def read_folded(lines):
    """[(frames, count)] from folded lines; raises ValueError on a bad line."""
    out = []
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        path, _, count = line.rpartition(" ")
        if not path or not count.isdigit():
            raise ValueError("line %d: want 'f1;f2;... COUNT', got %r" % (n, line))
        out.append((path.split(";"), int(count)))
    return out


class Frame:
    """One box of the graph: a call path, with its inclusive count."""

    def __init__(self, name, depth):
        self.name, self.depth, self.count, self.children = name, depth, 0, {}


def build_tree(stacks):
    """Merge stacks into a tree of Frames under a nameless root."""
    root = Frame("all", -1)
    for frames, count in stacks:
        root.count += count
        node = root
        for depth, name in enumerate(frames):
            node = node.children.setdefault(name, Frame(name, depth))
            node.count += count
    return root


def max_depth(node):
    return max([max_depth(c) for c in node.children.values()] + [node.depth])


def colour(name):
    """A warm colour chosen by the name (stable from run to run); traps and unknowns grey."""
    if name.startswith("["):
        return "rgb(190,190,200)"
    h = zlib.crc32(name.encode())
    return "rgb(%d,%d,%d)" % (205 + h % 50, 80 + (h >> 8) % 130, 40 + (h >> 16) % 40)


def draw(node, x, scale, height, total, out):
    """Append the SVG of node's children, left to right from x, sorted by name."""
    for name in sorted(node.children):
        child = node.children[name]
        w = child.count * scale
        y = height - (child.depth + 1) * ROW
        label = html.escape(child.name, quote=True)
        out.append('<g data-name="%s" data-count="%d" data-depth="%d"><title>%s: %d (%.2f%%)'
                   '</title><rect x="%.3f" y="%d" width="%.6f" height="%d" fill="%s"/>'
                   % (label, child.count, child.depth, label, child.count,
                      100.0 * child.count / total, x, y, w, ROW - 1, colour(child.name)))
        chars = int((w - 4) / (FONT * 0.6))
        if chars >= 3:
            text = child.name if len(child.name) <= chars else child.name[:chars - 2] + ".."
            out.append('<text x="%.3f" y="%d">%s</text>' % (x + 2, y + ROW - 5,
                                                            html.escape(text)))
        out.append("</g>")
        draw(child, x, scale, height, total, out)
        x += w


def svg(stacks, title, width=1200):
    """The SVG text for stacks ([(frames, count)])."""
    root = build_tree(stacks)
    depth = max_depth(root) + 1
    height = PAD_TOP + depth * ROW + 10
    total = root.count or 1
    scale = (width - 2 * PAD_SIDE) / total
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" data-total="%d" data-scale="%.12g">'
           % (width, height, width, height, root.count, scale),
           '<style>text { font: %dpx monospace; fill: #000; pointer-events: none; } '
           'rect { stroke: #fff; stroke-width: 0.3; } g:hover rect { stroke: #000; }</style>'
           % FONT,
           '<rect x="0" y="0" width="%d" height="%d" fill="#fdfdf6"/>' % (width, height),
           '<text x="%d" y="24" style="font-size:16px">%s (%d in all; hover a frame)</text>'
           % (PAD_SIDE, html.escape(title), root.count)]
    draw(root, PAD_SIDE, scale, height - 10, total, out)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folded")
    ap.add_argument("-o", "--output", help="SVG file (default: standard output)")
    ap.add_argument("--title", default="Flame graph")
    ap.add_argument("--width", type=int, default=1200)
    opt = ap.parse_args()
    try:
        with open(opt.folded) as f:
            stacks = read_folded(f)
    except (OSError, ValueError) as e:
        print("flame.py: %s: %s" % (opt.folded, e), file=sys.stderr)
        return 2
    text = svg(stacks, opt.title, opt.width)
    if opt.output:
        with open(opt.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
