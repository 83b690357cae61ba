# tests/fuzz/fuzz.mk - the libFuzzer target for the platform map (kernel/plat*.c).
#
#   make fuzz [FUZZ_RUNS=N]        (the top-level Makefile runs this file)
#
# Builds build/fuzz/fuzz_platform with clang -fsanitize=fuzzer,address,undefined
# from the portable platform files and mm/zone_layout.c plus the upstream libfdt sources extracted by
# tools/deps.sh into build/libfdt-src (their libfdt_env.h is the host's
# /usr/include one), seeds it with the DTB corpus of tools/dtbcorpus.sh
# (trimmed to totalsize; blobs above FUZZ_MAXLEN are left out: the large arm64
# trees run at ~800 executions/s against ~3500 for the rest) and runs
# FUZZ_RUNS executions.  Exit status non-zero
# on any crash, sanitizer report or broken invariant.

BUILD	?= build
CLANG	?= clang
FUZZ_RUNS ?= 1000000
FUZZ_MAXLEN ?= 16384
FZ	:= $(BUILD)/fuzz
LIBFDT_DIR := $(BUILD)/libfdt-src
LIBFDT_SRCS := $(addprefix $(LIBFDT_DIR)/,fdt.c fdt_ro.c fdt_wip.c fdt_sw.c fdt_rw.c \
	fdt_strerror.c fdt_empty_tree.c fdt_addresses.c)
FZ_SRCS	:= tests/fuzz/fuzz_platform.c kernel/plat_check.c kernel/plat_fdt.c kernel/platform.c \
	   kernel/plat_zones.c kernel/plat_print.c mm/zone_layout.c
FZ_FLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -DMM_DEBUG=1 -I. -Itests/host -Itools -I$(LIBFDT_DIR) -pthread

.PHONY: run seeds
run: $(FZ)/fuzz_platform seeds
	@mkdir -p $(FZ)/work
	$(FZ)/fuzz_platform -runs=$(FUZZ_RUNS) -max_len=$(FUZZ_MAXLEN) \
		-print_final_stats=1 -artifact_prefix=$(FZ)/ $(FZ)/work $(FZ)/seeds

$(FZ)/fuzz_platform: $(FZ_SRCS) $(LIBFDT_SRCS) $(wildcard kernel/plat*.h) tests/fuzz/fuzz.mk
	@mkdir -p $(FZ)
	$(CLANG) $(FZ_FLAGS) $(FZ_SRCS) $(LIBFDT_SRCS) -o $@

# Seeds: every corpus DTB cut to its totalsize (QEMU dumps are padded to 1 MiB).
seeds:
	@test -d $(BUILD)/dtb-corpus || ./tools/dtbcorpus.sh
	@rm -rf $(FZ)/seeds && mkdir -p $(FZ)/seeds
	@for f in $(BUILD)/dtb-corpus/*.dtb; do \
		n=$$(od -An -tu1 -j4 -N4 "$$f" | awk '{print $$1*16777216+$$2*65536+$$3*256+$$4}'); \
		[ "$$n" -le $(FUZZ_MAXLEN) ] || continue; \
		head -c "$$n" "$$f" > $(FZ)/seeds/$$(basename "$$f"); \
	done
	@echo "fuzz: $$(ls $(FZ)/seeds | wc -l) seeds"
