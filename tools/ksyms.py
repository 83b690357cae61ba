#!/usr/bin/env python3
"""Generate the kernel symbol table (.ksyms section) from `nm -n` output.

  nm -n kernel.elf | ksyms.py > ksyms.S     the table for the second link
  ksyms.py --empty > ksyms0.S               an empty table for the first link
  ksyms.py --check pass1.elf final.elf      text symbols must not have moved
"""
import subprocess
import sys

HEADER = """\t.section .ksyms, "a"
\t.balign 8
\t.globl ksyms_count, ksyms_addrs, ksyms_name_offs, ksyms_names
"""


def text_symbols(lines):
    syms = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or parts[1] not in "TtWw":
            continue
        name = parts[2]
        if name.startswith(".L") or name.startswith("$"):
            continue
        syms.append((int(parts[0], 16), name))
    syms.sort()
    return syms


def emit(syms):
    out = [HEADER, "ksyms_count:\n\t.quad %d\n" % len(syms), "ksyms_addrs:\n"]
    out += ["\t.quad 0x%x\n" % a for a, _ in syms]
    out.append("ksyms_name_offs:\n")
    off = 0
    for _, name in syms:
        out.append("\t.word %d\n" % off)
        off += len(name) + 1
    out.append("ksyms_names:\n")
    out += ['\t.asciz "%s"\n' % name for _, name in syms]
    return "".join(out)


def check(first, final):
    def syms(path):
        nm = subprocess.run([NM, "-n", path], check=True, capture_output=True, text=True)
        return text_symbols(nm.stdout.splitlines())
    if syms(first) != syms(final):
        sys.exit("ksyms: text symbols moved between link passes; check kernel.ld")


NM = "riscv64-unknown-elf-nm"

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--empty":
        sys.stdout.write(emit([]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.stdout.write(emit(text_symbols(sys.stdin)))
