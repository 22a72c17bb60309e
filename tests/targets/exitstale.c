/*
 * exitstale - main keeps its only pointers to 8 blocks in its own locals
 * and returns: the frames of exit() are pushed over main's dead frame, and
 * what they do not overwrite still holds those pointers.  valgrind sees
 * them as undefined (new stack is undefined until written) and reports the
 * 8 blocks definitely lost; so must a leak check at exit.  Prints nothing.
 */
#include <stdlib.h>

int
main(void)
{
	volatile int *p1 = malloc(4), *p2 = malloc(4), *p3 = malloc(4), *p4 = malloc(4);
	volatile int *p5 = malloc(4), *p6 = malloc(4), *p7 = malloc(4), *p8 = malloc(4);

	*p1 = *p2 = *p3 = *p4 = *p5 = *p6 = *p7 = *p8 = 1;
	return 0;
}
