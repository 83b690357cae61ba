/*
 * malloc_early.c - allocation before main, as early as a program can ask:
 * from its .preinit_array (run before any shared library's constructor,
 * libkmem's and libc's included) and from its first-priority constructor.
 * The blocks must survive, hold what was written, and free cleanly; with
 * KMEM_OPTIONS=stats the allocator must also have read its options by then.
 * Prints "malloc_early: passed" and exits 0, or says what failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *early[2];		/* [0] from preinit, [1] from the constructor */

/* Allocate and fill one block (called before main). */
static void grab(int i, const char *text)
{
	early[i] = malloc(100);
	if (early[i] != NULL)
		strcpy(early[i], text);
	free(malloc(20000));	/* a large block too, freed at once */
}

/* Run from .preinit_array: before every shared library's constructor. */
static void preinit(int argc, char **argv, char **envp)
{
	(void)argc, (void)argv, (void)envp;
	grab(0, "from preinit");
}
__attribute__((section(".preinit_array"), used)) static void (*preinit_p)(int, char **, char **) =
	preinit;

/* The program's first constructor (priority 101, the first one allowed). */
__attribute__((constructor(101))) static void first_ctor(void)
{
	grab(1, "from the first constructor");
}

int main(void)
{
	if (early[0] == NULL || strcmp(early[0], "from preinit") != 0 ||
	    early[1] == NULL || strcmp(early[1], "from the first constructor") != 0) {
		printf("malloc_early: FAILED: early blocks lost or changed\n");
		return 1;
	}
	free(early[0]);
	free(early[1]);
	printf("malloc_early: passed\n");
	return 0;
}
