/*
 * fdtinfo - print the platform map of a device tree blob as JSON.
 *
 *   build/host/fdtinfo FILE.dtb      (FILE "-" reads standard input)
 *   build/host/fdtinfo --help
 *
 * Runs the very code the kernel boots with on the host: the platform walk
 * (kernel/platform.c and its check and cell readers) and mm's zone
 * derivation (kernel/plat_zones.c -> mm/zone_layout.c), in their own small
 * environment (tools/plat_env.h); nothing of the host tests' mm environment.
 * Prints one JSON object on stdout and exits 0; for a blob that is not a
 * valid FDT prints exactly one line "fdtinfo: FILE: <reason>" on stderr and
 * exits 1; a wrong command line prints the usage on stderr and exits 2.
 * The output format is a contract: docs/fdtinfo.md.  The tool shows the blob
 * only: it adds neither a kernel image nor the blob as reservations.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/plat_zones.h"

#define FDTINFO_MAX_FILE (64u << 20)	/* no FDT is this large */

#define FDTINFO_USAGE	"usage: fdtinfo FILE.dtb   (FILE - reads standard input)\n"

static struct plat_map fdtinfo_map;	/* large: keep it off the stack */
static struct page_zone_desc fdtinfo_zones[PLAT_MAX_ZONES];

/* Print a JSON string: quote, escape, and bytes >= 0x80 as \u00XX (Latin-1). */
static void fdtinfo_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* A JSON hex string: "0x..." lower case. */
static void fdtinfo_hex(uint64_t v)
{
	printf("\"0x%llx\"", (unsigned long long)v);
}

/* A node id or null. */
static void fdtinfo_node(int node)
{
	if (node < 0)
		printf("null");
	else
		printf("%d", node);
}

/* The harts and memory lists. */
static void fdtinfo_harts_memory(const struct plat_map *pm)
{
	printf(" \"harts\": [");
	for (unsigned i = 0; i < pm->pm_nharts; i++) {
		printf("%s\n  {\"hartid\": %llu, \"node\": ", i ? "," : "",
		       (unsigned long long)pm->pm_harts[i].ph_hartid);
		fdtinfo_node(pm->pm_harts[i].ph_node);
		printf(", \"enabled\": %s}", pm->pm_harts[i].ph_enabled ? "true" : "false");
	}
	printf("],\n \"memory\": [");
	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		printf("%s\n  {\"base\": ", i ? "," : "");
		fdtinfo_hex(pm->pm_mem[i].pmr_base);
		printf(", \"size\": ");
		fdtinfo_hex(pm->pm_mem[i].pmr_size);
		printf(", \"node\": ");
		fdtinfo_node(pm->pm_mem[i].pmr_node);
		printf("}");
	}
	printf("],\n");
}

/* The reserved and dma_pools lists. */
static void fdtinfo_reserved_pools(const struct plat_map *pm)
{
	printf(" \"reserved\": [");
	for (unsigned i = 0; i < pm->pm_nresv; i++) {
		const struct plat_resv *pr = &pm->pm_resv[i];

		printf("%s\n  {\"base\": ", i ? "," : "");
		fdtinfo_hex(pr->pr_base);
		printf(", \"size\": ");
		fdtinfo_hex(pr->pr_size);
		printf(", \"name\": ");
		if (pr->pr_has_name)
			fdtinfo_str(pr->pr_name);
		else
			printf("null");
		printf(", \"no_map\": %s}", pr->pr_no_map ? "true" : "false");
	}
	printf("],\n \"dma_pools\": [");
	for (unsigned i = 0; i < pm->pm_npools; i++) {
		printf("%s\n  {\"base\": ", i ? "," : "");
		fdtinfo_hex(pm->pm_pools[i].pp_base);
		printf(", \"size\": ");
		fdtinfo_hex(pm->pm_pools[i].pp_size);
		printf(", \"name\": ");
		fdtinfo_str(pm->pm_pools[i].pp_name);
		printf(", \"reusable\": %s}", pm->pm_pools[i].pp_reusable ? "true" : "false");
	}
	printf("],\n");
}

/* dma_limit, distance and the nzones rows of fdtinfo_zones, closing the object. */
static void fdtinfo_dma_numa_zones(const struct plat_map *pm, int nzones)
{
	printf(" \"dma_limit\": ");
	if (pm->pm_has_dma_limit)
		fdtinfo_hex(pm->pm_dma_limit);
	else
		printf("null");
	printf(",\n \"distance\": ");
	if (pm->pm_ndist == 0)
		printf("null");
	for (unsigned a = 0; a < pm->pm_ndist; a++) {
		printf("%s[", a ? ",\n  " : "[");
		for (unsigned b = 0; b < pm->pm_ndist; b++)
			printf("%s%u", b ? ", " : "", pm->pm_dist[a][b]);
		printf("]%s", a + 1 == pm->pm_ndist ? "]" : "");
	}
	printf(",\n \"zones\": [");
	for (int i = 0; i < nzones; i++) {
		const struct page_zone_desc *zd = &fdtinfo_zones[i];

		printf("%s\n  {\"node\": %d, \"zone\": \"%s\", \"base\": ", i ? "," : "",
		       zd->pzd_node, plat_zone_name(zd->pzd_type));
		fdtinfo_hex(zd->pzd_base);
		printf(", \"end\": ");
		fdtinfo_hex(zd->pzd_end);
		printf(", \"pages\": %llu}", (unsigned long long)zd->pzd_pages);
	}
	printf("]}\n");
}

/* Read the whole file ("-": standard input) into a malloc'd (so 8-byte aligned) buffer. */
static void *fdtinfo_read(const char *path, size_t *sizep, char *err, size_t errlen)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *buf = NULL, *nb;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	for (;;) {
		if ((nb = realloc(buf, cap)) == NULL || cap > FDTINFO_MAX_FILE) {
			snprintf(err, errlen, nb ? "file larger than %u bytes" : "out of memory",
				 FDTINFO_MAX_FILE);
			free(nb ? nb : buf);
			if (!is_stdin)
				fclose(f);
			return NULL;
		}
		buf = nb;
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read error: %s", strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (!is_stdin)
		fclose(f);
	*sizep = n;
	return buf;
}

int main(int argc, char **argv)
{
	struct plat_map *pm = &fdtinfo_map;
	char err[256];
	size_t size = 0;
	int nzones = -1;
	void *blob;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf(FDTINFO_USAGE "Prints the platform map of the blob as JSON (docs/fdtinfo.md).\n");
		return 0;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0')) {
		fprintf(stderr, FDTINFO_USAGE);
		return 2;
	}
	blob = fdtinfo_read(argv[1], &size, err, sizeof(err));
	if (blob != NULL && plat_parse(blob, size, pm, err, sizeof(err)) == 0 &&
	    (nzones = plat_zones(pm, fdtinfo_zones, PLAT_MAX_ZONES)) < 0)
		snprintf(err, sizeof(err), "more than %d zones", PLAT_MAX_ZONES);
	if (blob == NULL || nzones < 0) {
		for (char *p = err; *p; p++)	/* node names in a reason: one line */
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		fprintf(stderr, "fdtinfo: %s: %s\n", argv[1], err);
		free(blob);
		return 1;
	}
	printf("{\"model\": ");
	if (pm->pm_has_model)
		fdtinfo_str(pm->pm_model);
	else
		printf("null");
	printf(",\n");
	fdtinfo_harts_memory(pm);
	fdtinfo_reserved_pools(pm);
	fdtinfo_dma_numa_zones(pm, nzones);
	free(blob);
	return 0;
}
