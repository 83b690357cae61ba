# SMP RISC-V kernel and its allocators.  Everything builds out of tree in build/.
#
#   make            build/kernel.elf (in-kernel tests compiled in) and the host tools
#   make run        boot it on QEMU virt (SMP=4 MEM=1G BOARD= ARGS= FW=default|jump)
#   make test       host unit tests + the QEMU boot matrix; ends "N passed, N failed"
#   make help       every target
#
# Missing packages are installed by tools/deps.sh, which every target runs first
# (a no-op once everything is present).

BUILD	:= build
HOST	:= $(BUILD)/host

SMP	?= 4
MEM	?= 1G
BOARD	?=
ARGS	?=
FW	?= default
NUMA	?=

# ---------------------------------------------------------------- toolchains
CROSS	?= riscv64-unknown-elf-
KCC	:= $(CROSS)gcc
KOBJCOPY := $(CROSS)objcopy
KNM	:= $(CROSS)nm
HCC	?= gcc
CLANG	?= clang
PYTHON	?= python3
DTC	?= dtc

# PLATFORM.md: -misa-spec=2.2 keeps the rv64imac/lp64 multilib and makes Zicsr implicit.
KARCH	:= -march=rv64imac -misa-spec=2.2 -mabi=lp64 -mcmodel=medany -mno-relax
KCOMMON	:= $(KARCH) -ffreestanding -nostdlib -fno-common -fno-stack-protector \
	   -fno-pie -fno-omit-frame-pointer -fno-optimize-sibling-calls \
	   -O2 -g -std=gnu11 -MMD -MP
KINC	:= -I. -Ikernel -I$(BUILD)/libfdt-src
KCFLAGS	:= $(KCOMMON) -Wall -Wextra -Werror -DMM_DEBUG=1 $(KINC)
KLDFLAGS := -nostdlib -static -Wl,--no-warn-rwx-segments -Wl,-T,arch/riscv/kernel.ld \
	    -Wl,--build-id=none

HCFLAGS	:= -std=gnu11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
	   -fsanitize=address,undefined -fno-sanitize-recover=all -pthread \
	   -DMM_DEBUG=1 -I. -Itests/host -Itools -MMD -MP
HLDLIBS	:= -lcmocka -lfdt -lm

# ---------------------------------------------------------------- sources
# Adding a file to one of these directories is enough to build it.
K_ASM	:= $(wildcard arch/riscv/*.S)
K_C	:= $(wildcard arch/riscv/*.c kernel/*.c mm/*.c drivers/*.c tests/kernel/*.c tests/common/*.c)
K_OBJS	:= $(patsubst %,$(BUILD)/k/%.o,$(K_ASM) $(K_C))
LIBFDT_C := fdt.c fdt_ro.c fdt_wip.c fdt_sw.c fdt_rw.c fdt_strerror.c fdt_empty_tree.c \
	    fdt_addresses.c
LIBFDT_OBJS := $(patsubst %,$(BUILD)/k/libfdt/%.o,$(LIBFDT_C))

# Portable code the host build compiles unchanged: all of mm/ plus the portable
# kernel modules listed here (they must not include arch/ headers).  H_PLAT is
# the device-tree code, whose host environment is tools/plat_env.h (-Itools);
# fdtinfo links H_PLAT and mm's zone derivation only, the tests everything
# plus mm's host environment tests/host/host_env.c.
H_PLAT	:= kernel/plat_check.c kernel/plat_fdt.c kernel/platform.c kernel/plat_zones.c
H_PORTABLE := $(wildcard mm/*.c) $(H_PLAT) kernel/plat_print.c
H_PORTABLE_OBJS := $(patsubst %,$(HOST)/obj/%.o,$(H_PORTABLE) tests/host/host_env.c)
FDTINFO_OBJS := $(patsubst %,$(HOST)/obj/%.o,$(H_PLAT) mm/zone_layout.c)
H_TESTS	:= $(patsubst tests/host/%.c,$(HOST)/tests/%,$(wildcard tests/host/test_*.c))

DTS	:= $(wildcard dts/*.dts)
DTBS	:= $(patsubst dts/%.dts,$(BUILD)/dts/%.dtb,$(DTS))

DEPS	:= $(BUILD)/.deps-ok

# `make V=1` shows full commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
endif

.PHONY: all kernel host-tools host-tests dtbs run test bench profile clean help deps fuzz \
	mm-env-check check-budgets test-big mutants gdb stress scale report
all: kernel host-tools dtbs

help:
	@echo "make               build/kernel.elf, host tools and dts blobs"
	@echo "make run           boot on QEMU: SMP=$(SMP) MEM=$(MEM) BOARD=<dts name> ARGS=<bootargs> FW=default|jump"
	@echo "make gdb           the same words as make run; QEMU halted under gdb-multiarch (tools/gdb.py)"
	@echo "make stress        per-hart allocator stress: the make run words plus SECONDS=10 ARGS=; exit 0 only on 'stress: passed' (docs/stress.md)"
	@echo "make test          host tests + QEMU boot matrix, ends with 'N passed, N failed'"
	@echo "make host-tools    build/host/fdtinfo and the QEMU profiling plugin"
	@echo "make host-tests    build the host unit tests"
	@echo "make mm-env-check  compile mm/ against the names mm/mm_platform.h lists, and no more"
	@echo "make dtbs          compile dts/*.dts into build/dts/"
	@echo "make profile       boot under the profiling plugin: report, build/profile/profile.json, flame graphs"
	@echo "make report        build/profile/report.html and report.txt from the last make profile (tools/report.py)"
	@echo "make scale         stress throughput against harts and memory, magazines on and off (SECONDS=3 SCALE_HARTS= SCALE_MEMS=; docs/scale.md)"
	@echo "make test-big      full ktest at -smp 64 (64 GiB) and -smp 128 (256 GiB), 4 NUMA nodes; not in make test"
	@echo "make mutants       break the code on purpose (tools/mutants.py) and check the tests notice; not in make test"
	@echo "make check-budgets measure every prof_region and compare with tests/budgets.txt (in make test)"
	@echo "make bench         run the benchmarks (host and in-kernel)"
	@echo "make bench-malloc  the malloc race: glibc, jemalloc, tcmalloc, mimalloc and build/host/libkmem.so"
	@echo "                   preloaded into build/host/mbench-* (MB_ARGS=--budget 300; docs/malloc_race.md)"
	@echo "make fuzz          run the libFuzzer targets (FUZZ_RUNS=1000000)"
	@echo "make deps          install missing packages (tools/deps.sh)"
	@echo "make clean         remove build/"

# ---------------------------------------------------------------- dependencies
# Re-run when the script changes or a tool we need disappeared.
deps: $(DEPS)
$(DEPS): tools/deps.sh
	@./tools/deps.sh
	@touch $@
ifneq ($(MAKECMDGOALS),clean)
ifeq ($(shell command -v $(KCC) >/dev/null && command -v qemu-system-riscv64 >/dev/null && \
	command -v $(DTC) >/dev/null && test -f $(BUILD)/libfdt-src/fdt.c && echo ok),)
$(shell rm -f $(DEPS))
endif
endif

# ---------------------------------------------------------------- kernel
kernel: $(BUILD)/kernel.elf

$(BUILD)/k/%.S.o: %.S | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,AS,$<)
	$(Q)$(KCC) $(KCFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(BUILD)/k/%.c.o: %.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(KCC) $(KCFLAGS) -c $< -o $@

# Third-party libfdt: warnings are not ours to fix, so no -Werror.
$(BUILD)/k/libfdt/%.c.o: $(BUILD)/libfdt-src/%.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(KCC) $(KCOMMON) -Wall $(KINC) -c $< -o $@

# The sources appear when tools/deps.sh extracts them; they are not
# intermediate files for make to delete afterwards.
$(BUILD)/libfdt-src/%.c: | $(DEPS) ;
.PRECIOUS: $(BUILD)/libfdt-src/%.c
# Nothing built is an intermediate to delete: a rebuild stays incremental, and
# make prints no "rm ..." after `make test`'s closing "N passed, N failed" line.
.SECONDARY:

# Two-pass link: the symbol table is placed after .data, so text and rodata
# addresses do not move when its contents change (see arch/riscv/kernel.ld).
$(BUILD)/k/ksyms0.o: tools/ksyms.py | $(DEPS)
	@mkdir -p $(dir $@)
	$(Q)$(PYTHON) tools/ksyms.py --empty > $(BUILD)/k/ksyms0.S
	$(Q)$(KCC) $(KCFLAGS) -c $(BUILD)/k/ksyms0.S -o $@

$(BUILD)/kernel.elf: $(K_OBJS) $(LIBFDT_OBJS) $(BUILD)/k/ksyms0.o arch/riscv/kernel.ld tools/ksyms.py
	$(call say,LD,$@)
	$(Q)$(KCC) $(KARCH) $(KLDFLAGS) -o $(BUILD)/k/kernel.pass1.elf $(K_OBJS) $(LIBFDT_OBJS) $(BUILD)/k/ksyms0.o -lgcc
	$(Q)$(KNM) -n $(BUILD)/k/kernel.pass1.elf | $(PYTHON) tools/ksyms.py > $(BUILD)/k/ksyms.S
	$(Q)$(KCC) $(KCFLAGS) -c $(BUILD)/k/ksyms.S -o $(BUILD)/k/ksyms.o
	$(Q)$(KCC) $(KARCH) $(KLDFLAGS) -o $@ $(K_OBJS) $(LIBFDT_OBJS) $(BUILD)/k/ksyms.o -lgcc
	$(Q)$(PYTHON) tools/ksyms.py --check $(BUILD)/k/kernel.pass1.elf $@

# ---------------------------------------------------------------- device trees
dtbs: $(DTBS)
$(BUILD)/dts/%.dtb: dts/%.dts $(wildcard dts/*.dtsi) | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,DTC,$<)
	$(Q)$(DTC) -q -I dts -O dtb -o $@ $<

# ---------------------------------------------------------------- host side
host-tools: $(HOST)/fdtinfo $(HOST)/libqprof.so
host-tests: $(H_TESTS)

$(HOST)/obj/%.c.o: %.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTCC,$<)
	$(Q)$(HCC) $(HCFLAGS) -c $< -o $@

$(HOST)/tests/%: tests/host/%.c $(H_PORTABLE_OBJS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(HCFLAGS) $< $(H_PORTABLE_OBJS) -o $@ $(HLDLIBS)

# The page allocator over a flat descriptor map (MM_PAGE_FLAT, as libkmem runs
# it): mm/ compiled again with -DHOST_PAGE_FLAT for tests/host/test_pageflat.c.
H_FLAT_OBJS := $(patsubst %,$(HOST)/objflat/%.o,$(H_PORTABLE) tests/host/host_env.c)
$(HOST)/objflat/%.c.o: %.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTCC,$< [flat])
	$(Q)$(HCC) $(HCFLAGS) -DHOST_PAGE_FLAT -c $< -o $@
$(HOST)/tests/test_pageflat: tests/host/test_pageflat.c $(H_FLAT_OBJS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(HCFLAGS) -DHOST_PAGE_FLAT $< $(H_FLAT_OBJS) -o $@ $(HLDLIBS)

$(HOST)/fdtinfo: tools/fdtinfo.c $(FDTINFO_OBJS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(HCFLAGS) $< $(FDTINFO_OBJS) -o $@ -lfdt

# Host benchmarks: optimised, no sanitizers, MM_DEBUG=0; not tests (make bench runs them).
# (all of mm/: vmem's quantum caches call the object caches, which need the page allocator)
$(HOST)/bench_vmem: tests/host/bench_vmem.c tests/common/firstfit.c $(H_PORTABLE) \
		    tests/host/host_env.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -DMM_DEBUG=0 -I. -Itests/host -Itools \
		$(filter %.c,$^) -o $@ -lfdt -lm

# Object-cache pairs per second per hart, 1-8 threads, magazines on and off (docs/kmem.md).
$(HOST)/bench_kmem: tests/host/bench_kmem.c $(H_PORTABLE) tests/host/host_env.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -DMM_DEBUG=0 -I. -Itests/host -Itools \
		$(filter %.c,$^) -o $@ -lfdt -lm

# ---------------------------------------------------------------- libkmem
# mm/ as the process's malloc, for LD_PRELOAD (docs/libkmem.md): every mm/
# file unchanged over tools/libkmem/mm_env.h, optimised, MM_DEBUG=0, only the
# malloc API exported.
# Its text is resident whole (the kernel maps a library's cached pages
# around each fault), so size counts: files that run once or only for
# reports and debugging are built -Os, and functions nothing calls are
# dropped (-ffunction-sections, --gc-sections).  The hit paths (umem.c,
# kmalloc.c, kmem.c and the inline paths of mm/*.h) stay -O2.  Code that a
# normal process never runs (dumps, debugging, teardown, error reports, ...),
# its strings and .eh_frame go past a hole into mappings of their own
# (tools/libkmem/libkmem.ld, preprocessed to build/host/libkmem.ld), which
# fault-around cannot reach: 80 KiB of the file resident instead of 112.
LIBKMEM_SRC := $(wildcard mm/*.c tools/libkmem/*.c)
LIBKMEM_COLD := mm/bootmem.c mm/page_init.c mm/zone_layout.c mm/page_dump.c mm/vmem_dump.c \
	mm/kmem_dump.c mm/kmem_debug.c mm/fail.c tools/libkmem/umem_footprint.c
LIBKMEM_COLD_OBJ := $(patsubst %.c,$(HOST)/libkmem-os/%.o,$(LIBKMEM_COLD))
LIBKMEM_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -pthread -DMM_DEBUG=0 \
	-fvisibility=hidden -ftls-model=initial-exec -fno-plt -fno-builtin-malloc -fno-builtin-calloc \
	-ffunction-sections -fdata-sections -I. -Itools/libkmem
host-tools: $(HOST)/libkmem.so
$(HOST)/libkmem-os/%.o: %.c $(wildcard mm/*.h tools/libkmem/*.h) | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTCC,$@)
	$(Q)$(HCC) $(LIBKMEM_CFLAGS) -Os -c $< -o $@
$(HOST)/libkmem.ld: tools/libkmem/libkmem.ld
	@mkdir -p $(dir $@)
	$(Q)$(HCC) -E -P -x c $< -o $@
$(HOST)/libkmem.so: $(filter-out $(LIBKMEM_COLD),$(LIBKMEM_SRC)) $(LIBKMEM_COLD_OBJ) \
		$(wildcard mm/*.h tools/libkmem/*.h) $(HOST)/libkmem.ld | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(LIBKMEM_CFLAGS) -shared -Wl,-Bsymbolic -Wl,-z,now -Wl,--gc-sections \
		-Wl,-T,$(HOST)/libkmem.ld $(filter %.c %.o,$^) -o $@
# Its test programs (tools/libkmem/check.py runs them): no sanitizers, which
# would bring their own malloc.
host-tools: $(HOST)/malloc_torture $(HOST)/malloc_badfree $(HOST)/malloc_early
$(HOST)/malloc_%: tests/host/malloc_%.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread $< -o $@

# mm/ against mm/mm_platform.h alone: tests/host/mm_env_min/mm_env.h declares
# exactly the names that header lists, with no libc headers (-nostdinc keeps
# only the compiler's own stddef/stdint/stdbool), so a name mm uses but the
# list omits fails here.  Every mm/*.c is compiled four ways (MM_DEBUG 0/1,
# MM_CPU_PTR absent/present); the negative control undocumented.c, which
# uses memchr, must fail.  Prints 'N passed, N failed' for tools/testrun.py.
MM_ENV_MIN_CC = $(HCC) -std=gnu11 -fsyntax-only -ffreestanding -nostdinc \
	-isystem $(shell $(HCC) -print-file-name=include) -Wall -Wextra -Werror \
	-I. -Itests/host/mm_env_min
mm-env-check:
	@pass=0; fail=0; \
	for f in $(wildcard mm/*.c); do for d in 0 1; do for c in 0 1; do \
	  if $(MM_ENV_MIN_CC) -DMM_DEBUG=$$d -DMM_ENV_MIN_CPU_PTR=$$c $$f; then \
	    pass=$$((pass + 1)); \
	  else echo "FAIL: $$f (MM_DEBUG=$$d MM_CPU_PTR=$$c) uses a name mm/mm_platform.h omits"; \
	    fail=$$((fail + 1)); fi; \
	done; done; done; \
	if $(MM_ENV_MIN_CC) -DMM_DEBUG=1 tests/host/mm_env_min/undocumented.c 2>/dev/null; then \
	  echo "FAIL: the negative control compiled: the check cannot see undocumented names"; \
	  fail=$$((fail + 1)); \
	else pass=$$((pass + 1)); fi; \
	echo "mm-env-check: $$pass passed, $$fail failed"; test $$fail -eq 0

# The QEMU TCG plugin: no sanitizers (it runs inside QEMU), no link against QEMU.
$(HOST)/libqprof.so: tools/qprof.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -shared -fPIC -pthread $< -o $@

# ---------------------------------------------------------------- running
QEMU_RUN = $(PYTHON) tools/qemu.py --kernel $(BUILD)/kernel.elf --smp $(SMP) --mem $(MEM) \
	   --fw $(FW) $(if $(BOARD),--board $(BOARD)) $(if $(NUMA),--numa $(NUMA)) --args "$(ARGS)"

run: all
	$(QEMU_RUN) --interactive

# QEMU halted with a gdb stub on a free 127.0.0.1 port, gdb-multiarch attached
# with the kernel's symbols (one thread per hart); the console goes to
# build/gdb-console.log.  Killing gdb kills QEMU.
gdb: all
	$(PYTHON) tools/gdb.py --kernel $(BUILD)/kernel.elf --smp $(SMP) --mem $(MEM) \
		--fw $(FW) $(if $(BOARD),--board $(BOARD)) $(if $(NUMA),--numa $(NUMA)) --args "$(ARGS)"

# The per-hart stress workload (kernel/stress.c, docs/stress.md): the words
# of make run plus SECONDS; QEMU's exit status is the verdict.
SECONDS	?= 10
stress: all
	$(PYTHON) tools/qemu.py --kernel $(BUILD)/kernel.elf --smp $(SMP) --mem $(MEM) \
		--fw $(FW) $(if $(BOARD),--board $(BOARD)) $(if $(NUMA),--numa $(NUMA)) \
		--args "stress=$(SECONDS) $(ARGS)"

test: all host-tests
	$(PYTHON) tools/testrun.py

# Profiling needs a workload: ARGS defaults to ktest here (docs/profiling.md).
profile: all
	$(PYTHON) tools/profile.py --kernel $(BUILD)/kernel.elf --plugin $(HOST)/libqprof.so \
		--smp $(SMP) --mem $(MEM) --fw $(FW) $(if $(BOARD),--board $(BOARD)) \
		$(if $(NUMA),--numa $(NUMA)) --args "$(or $(ARGS),ktest)"

# The profile report page again (make profile writes it too), and the scale
# sweep whose JSON its scaling section reads (tools/scale.py, docs/scale.md).
report:
	$(PYTHON) tools/report.py $(BUILD)/profile/profile.json

SCALE_HARTS ?= 1,2,4,8,16,32,64,128
SCALE_MEMS ?= 1G,4G,16G,64G,256G
scale: all
	$(PYTHON) tools/scale.py --stress $(if $(filter command line,$(origin SECONDS)),$(SECONDS),3) \
		--harts $(SCALE_HARTS) --mems $(SCALE_MEMS) --boards virt-numa8

# Full ktest on the largest configurations (docs/kernel.md records the times).
test-big: all
	$(PYTHON) tools/testrun.py --big

# Mutation check: every mutant in tools/mutants.py must make its test fail.
mutants: | $(DEPS)
	$(PYTHON) tools/mutants.py

# Instruction budgets per operation (tests/budgets.txt, docs/profiling.md "Budgets").
check-budgets: all
	$(PYTHON) tools/profile.py --check-budgets tests/budgets.txt

bench: all host-tests $(HOST)/bench_vmem
	$(PYTHON) tools/bench.py

# ---------------------------------------------------------------- malloc race
# Issue 10 section 3: benchmarks of ours after the classic ones, each a plain
# pthreads program run under every allocator by LD_PRELOAD (tools/bench_malloc.py,
# docs/malloc_race.md).  -O2, no sanitizers; -fno-builtin-* keeps every
# malloc/free call a call.  mbench-bump.so / mbench-broken.so are the smoke
# check's control allocators (a correct one and one that overlaps blocks).
MBENCH_NAMES := pair larson xmalloc scratch random
MBENCH_BINS := $(patsubst %,$(HOST)/mbench-%,$(MBENCH_NAMES))
MBENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -fno-builtin-malloc \
	-fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc
.PHONY: bench-malloc mbench
mbench: $(MBENCH_BINS) $(HOST)/mbench-bump.so $(HOST)/mbench-broken.so

$(HOST)/mbench-%: tests/malloc_bench/mb_%.c tests/malloc_bench/mbench.c tests/malloc_bench/mbench.h
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(MBENCH_CFLAGS) $(filter %.c,$^) -o $@

$(HOST)/mbench-bump.so: tests/malloc_bench/mb_bump.c
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(MBENCH_CFLAGS) -shared -fPIC $< -o $@

$(HOST)/mbench-broken.so: tests/malloc_bench/mb_bump.c
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HCC) $(MBENCH_CFLAGS) -DMB_BROKEN -shared -fPIC $< -o $@

# host-tools builds build/host/libkmem.so (issue 10 section 1); when it is missing the race says so.
bench-malloc: mbench host-tools
	$(PYTHON) tools/bench_malloc.py $(MB_ARGS)

fuzz: | $(DEPS)
	$(MAKE) -f tests/fuzz/fuzz.mk FUZZ_RUNS=$(or $(FUZZ_RUNS),1000000)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
