/*
 * ctoralloc - allocations made before main: a constructor of the program
 * loses a 40-byte block and keeps a 24-byte one; linked with libstdc++
 * (the Makefile's rule), whose initialiser allocates its emergency
 * exception pool (72,704 bytes with glibc's default tunables).  Launch
 * mode must trace all of them: `trace start` comes before any initialiser.
 */
#include <stdlib.h>
#include <string.h>

void *kept_by_ctor;

__attribute__((constructor)) static void
early(void)
{
	void *lost = malloc(40);
	memset(lost, 0, 40);
	kept_by_ctor = malloc(24);
}

int
main(void)
{
	return 0;
}
