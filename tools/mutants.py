#!/usr/bin/env python3
"""`make mutants`: break the code on purpose and check that the tests notice.

    tools/mutants.py [--list] [--keep] [NAME ...]

Each mutant below is one textual change to one file (it must apply exactly
once) and the test that must catch it.  For each, a copy of the tree (the
files git knows, plus build/libfdt-src) is made in a temporary directory,
the test is run there unmutated (it must pass: else a "catch" would mean
nothing), the change is applied, and the test is run again: it must fail.
The working tree is never modified.  Prints one line per mutant, "caught" or
"MISSED" (or "BASELINE FAILED"), and ends with "N passed, N failed".  Not
part of `make test`: it rebuilds the host tests or the kernel once per mutant
(about 5 to 10 minutes for the whole list on this machine).

These runs are what the claims in docs/ rest on (docs/vmem.md,
docs/page_alloc.md, docs/profiling.md "Budgets").
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable

# name: (file, old text, new text, make target, test command, what it shows)
MUTANTS = {
    "vmem-no-coalesce": (
        "mm/vmem.c",
        "static struct vmem_seg *vmem_coalesce(vmem_t *vmp, struct vmem_seg *vsp)\n{\n",
        "static struct vmem_seg *vmem_coalesce(vmem_t *vmp, struct vmem_seg *vsp)\n{\n"
        "\treturn vsp;\n",
        "build/host/tests/test_vmem", ["build/host/tests/test_vmem"],
        "freed segments are never merged with their free neighbours"),
    "vmem-bestfit-list-off-by-one": (
        "mm/vmem.c",
        "return vmem_search_lists(vmp, rq, vmem_highbit(rq->vr_size), true, addrp);",
        "return vmem_search_lists(vmp, rq, vmem_highbit(rq->vr_size) + 1, true, addrp);",
        "build/host/tests/test_vmem_random", ["build/host/tests/test_vmem_random"],
        "best fit starts one free list too high and misses the smallest fit"),
    "vmem-fit-bound": (
        "mm/vmem.c",
        "\tif (addr > end - rq->vr_size)\n\t\treturn false;",
        "\tif (addr > end - rq->vr_size + 1)\n\t\treturn false;",
        "build/host/tests/test_vmem_random", ["build/host/tests/test_vmem_random"],
        "a fit may end one unit past its segment"),
    "pcp-refill-without-zone-lock": (
        "mm/pcp.c",
        "\tzf = zone_lock(zp);\n\tif (!zone_watermark_ok(zp, 0, mark, n - 1 + keep))",
        "\tzf = irq_save();\n\tif (!zone_watermark_ok(zp, 0, mark, n - 1 + keep))",
        "build/host/tests/test_pcp", ["build/host/tests/test_pcp"],
        "a refill takes pages off the buddy lists without the zone lock (the unlock "
        "stays, so the debug build's lock checks or the threads test must object)"),
    "buddyinfo-shifted-column": (
        "mm/page_dump.c",
        "out(\"%6llu \", (unsigned long long)zi.pzi_nr_free[o]);",
        "out(\"%6llu \", (unsigned long long)zi.pzi_nr_free[o ? o - 1 : 0]);",
        "build/host/tests/test_pcp", ["build/host/tests/test_pcp"],
        "buddyinfo prints each order's count one column late"),
    "zoneinfo-allocs-formula": (
        "mm/page_dump.c",
        "(unsigned long long)(pc->pc_frees + pc->pc_refilled - pc->pc_drained - count),",
        "(unsigned long long)(pc->pc_frees + pc->pc_refilled - pc->pc_drained),",
        "build/host/tests/test_pcp", ["build/host/tests/test_pcp"],
        "zoneinfo's per-hart allocation count forgets the pages still cached"),
    "vmem-dump-all-inuse-column": (
        "mm/vmem_dump.c",
        "(int)(24 - 2 * depth), vmp->vm_name, (unsigned long)vk.vk_mem_inuse,",
        "(int)(24 - 2 * depth), vmp->vm_name, (unsigned long)vk.vk_mem_total,",
        "build/host/tests/test_vmem", ["build/host/tests/test_vmem"],
        "the vmem arena list prints the total where the in-use bytes belong"),
    "pcp-fast-path-atomic": (
        "mm/page.h",
        "\tpc->pc_head = pg->pg_next;\n\tpc->pc_room++;",
        "\tpc->pc_head = pg->pg_next;\n\t__atomic_fetch_add(&pc->pc_room, 1, __ATOMIC_RELAXED);",
        "all", [PY, "tools/profile.py", "--check-budgets", "tests/budgets.txt"],
        "the per-hart allocation fast path gains one atomic instruction: over budget"),
    # Deferred page descriptors (mm/page_init.c §2, docs/page_alloc.md): test_defer.
    "defer-free-count-misses-deferred": (
        "mm/page_init.c",
        "\t\t     __atomic_load_n(&page_state.pgs_zone[i].z_deferred, __ATOMIC_RELAXED);",
        "\t\t     0;",
        "build/host/tests/test_defer", ["build/host/tests/test_defer"],
        "page_free_count leaves the deferred pages out of the free memory"),
    "defer-never-grows": (
        "mm/zone.c",
        "while (pg == NULL && zp->z_deferred != 0 && page_grow(zp))",
        "while (pg == NULL && zp->z_deferred != 0 && false)",
        "build/host/tests/test_defer", ["build/host/tests/test_defer"],
        "a zone never grows into its deferred sections: requests fall back or fail early"),
    "defer-grow-unpublished": (
        "mm/page_init.c",
        "\tpage_sect_fill(s);\n\tpage_sect_publish(s);\n\tpage_state.pgs_sect[s].psc_deferred = false;",
        "\tpage_sect_fill(s);\n\tpage_state.pgs_sect[s].psc_deferred = false;",
        "build/host/tests/test_defer", ["build/host/tests/test_defer"],
        "a grown section's map is never published: page_lookup stays NULL for its pages"),
    "defer-grow-outside-zone-lock": (
        "mm/page_init.c",
        "\tpage_sect_fill(s);\n\tpage_sect_publish(s);\n\tpage_state.pgs_sect[s].psc_deferred = false;",
        "\tspin_unlock(&zp->z_lock);\n\tpage_sect_fill(s);\n\tspin_lock(&zp->z_lock);\n"
        "\tpage_sect_publish(s);\n\tpage_state.pgs_sect[s].psc_deferred = false;",
        "build/host/tests/test_defer", ["build/host/tests/test_defer"],
        "page_grow writes a section with the zone lock dropped: racing harts grow it twice "
        "(test_defer's threads case, 24 boots)"),
    # kfree's hit path (mm/kmalloc.c §3) and libkmem's malloc (kmalloc.c §1, umem.c §1).
    "kfree-kchunks-without-class": (
        "mm/kmem_slab.c",
        "sp->slab_kchunks = cp->cache_kclass != 0 ? kmem_slab_kchunks(cp) : 0;",
        "sp->slab_kchunks = kmem_slab_kchunks(cp);",
        "build/host/tests/test_kmem", ["build/host/tests/test_kmem"],
        "a slab without a kmalloc class passes kfree's buffer test: its buffers go to class 0"),
    "kmalloc-stub-never-replaced": (
        "mm/kmalloc.c",
        "\t\t__atomic_store_n(&kmalloc_hit[i], cp, __ATOMIC_RELEASE);",
        "\t\t(void)0;",
        "build/host/tests/test_kmem_mt", ["build/host/tests/test_kmem_mt"],
        "a class made on demand never reaches malloc's hit path (kmalloc_hit keeps the stub)"),
    "libkmem-big-reuse-unmarked": (
        "tools/libkmem/umem.c",
        "\tif (n > KMALLOC_MAX_CLASS)\n\t\tumem_dirty_reused((uintptr_t)p, n);",
        "",
        "host-tools", [PY, "tools/libkmem/check.py", "--filter", "big blocks"],
        "a big block freed and taken again still counts as free: it is given back and faulted "
        "in again"),
    "stress-watchdog-blind-to-one-hart": (
        "kernel/stress.c",
        "\tif (sr->sr_idle_us[c] >= (uint64_t)sr->sr_hang_s * 1000000 &&",
        "\tif (false && sr->sr_idle_us[c] >= (uint64_t)sr->sr_hang_s * 1000000 &&",
        "all", [PY, "tools/testrun.py", "--only", "boot", "--filter", "stress-selftest-hang"],
        "one hart that stops while the others run is never reported (a 60 s boot)"),
}


def copy_tree(dst):
    """The files git tracks (as they are in the working tree) plus libfdt's sources."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=TOP, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = os.path.join(TOP, f)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dst, f)) or dst, exist_ok=True)
            shutil.copy2(src, os.path.join(dst, f))
    shutil.copytree(os.path.join(TOP, "build", "libfdt-src"),
                    os.path.join(dst, "build", "libfdt-src"))
    if os.path.exists(os.path.join(TOP, "build", ".deps-ok")):
        shutil.copy2(os.path.join(TOP, "build", ".deps-ok"), os.path.join(dst, "build"))


def build_and_test(tree, target, test):
    """Build target in tree and run the test; returns (passed, last lines of output)."""
    b = subprocess.run(["make", "-j2", target], cwd=tree, capture_output=True, text=True)
    if b.returncode != 0:
        return False, "build failed: " + (b.stdout + b.stderr).strip().splitlines()[-1]
    try:
        t = subprocess.run(test, cwd=tree, capture_output=True, text=True, timeout=900,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "timed out"
    lines = [l for l in (t.stdout + t.stderr).splitlines()
             if "FAIL" in l or "ERROR" in l or "passed" in l]
    return t.returncode == 0, "; ".join(lines[-3:])


def apply(tree, path, old, new):
    p = os.path.join(tree, path)
    text = open(p).read()
    if text.count(old) != 1:
        raise ValueError("%s: the text to change occurs %d times (the code moved?)"
                         % (path, text.count(old)))
    with open(p, "w") as f:
        f.write(text.replace(old, new))


def run_one(name, keep):
    path, old, new, target, test, what = MUTANTS[name]
    tree = tempfile.mkdtemp(prefix="mutant-%s-" % name)
    try:
        copy_tree(tree)
        ok, out = build_and_test(tree, target, test)
        if not ok:
            print("BASELINE FAILED %s: unmutated %s does not pass (%s)" % (name, test[-1], out))
            return False
        try:
            apply(tree, path, old, new)
        except ValueError as e:
            print("MISSED %s: %s" % (name, e))
            return False
        ok, out = build_and_test(tree, target, test)
        print("%s %s: %s; %s -> %s" % ("MISSED" if ok else "caught", name, what,
                                       " ".join(os.path.basename(x) for x in test[-3:]),
                                       out or "non-zero exit"), flush=True)
        return not ok
    finally:
        if keep:
            print("  tree kept in %s" % tree)
        else:
            shutil.rmtree(tree, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="mutants to run (default: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the mutated trees")
    o = ap.parse_args()
    if o.list:
        for n, m in MUTANTS.items():
            print("%-30s %s: %s" % (n, m[0], m[5]))
        return 0
    names = o.names or list(MUTANTS)
    bad = [n for n in names if n not in MUTANTS]
    if bad:
        print("mutants.py: no mutant named %s (--list)" % ", ".join(bad), file=sys.stderr)
        return 2
    caught = sum(run_one(n, o.keep) for n in names)
    print("mutants: %d passed, %d failed" % (caught, len(names) - caught))
    return 0 if caught == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
