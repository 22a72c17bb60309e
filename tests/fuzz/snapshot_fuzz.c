/*
 * snapshot_fuzz.c - libFuzzer harness for the snapshot file reader.
 *
 * Each input is decoded twice: as it is (the header checks and the
 * CRC-32 stop most inputs early), and with its length field and checksum
 * patched to match, so that the message parser proper sees every input.
 * A snapshot that decodes is then used the ways heapdbg uses one: diffed
 * against itself, encoded again (and that must decode to the same
 * chunks), exported as pprof and folded stacks.
 *
 * Build with `make fuzz`, run with scripts/fuzz.sh snapshot.  The seeds in
 * tests/fuzz/corpus-snapshot: traced.snap and symbolic.snap from
 * `SNAPSHOT_SEEDS=DIR tests/unit/snapshot.t`, dynamic-core.snap saved by
 * heapdbg from tests/fuzz/corpus-core/dynamic.core.
 */
#include "config.h"
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

static void
use(struct snapshot *sn)
{
	struct snap_diff d;
	struct sbuf b;
	struct snapshot *again;

	snapshot_diff(sn, sn, &d);
	if (d.new_.chunks || d.freed.chunks)
		abort();	/* a snapshot differs from itself */
	snap_diff_free(&d);
	sb_init(&b);
	snapshot_encode(sn, &b);
	again = snapshot_decode(b.s, b.len);
	if (!again || again->nchunks != sn->nchunks || again->traces.n != sn->traces.n ||
	    again->stacks.n != sn->stacks.n)
		abort();	/* what we write we must read back */
	snapshot_free(again);
	sb_reset(&b);
	pprof_encode(sn, &b, NULL, NULL);
	sb_reset(&b);
	folded_encode(sn, &b, NULL, NULL);
	sb_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot *sn;
	uint8_t *copy;

	sn = snapshot_decode(data, size);
	if (sn) {
		use(sn);
		snapshot_free(sn);
	}
	if (size < SNAPFILE_HEADER + SNAPFILE_TRAILER)
		return 0;
	/* the same bytes as a well-formed container */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memcpy(copy, SNAPFILE_MAGIC, 8);
	copy[8] = SNAPFILE_VERSION;
	copy[9] = 0;
	copy[10] = copy[11] = 0;
	for (int i = 0; i < 8; i++)
		copy[12 + i] = (uint8_t)((uint64_t)(size - SNAPFILE_HEADER - SNAPFILE_TRAILER) >> (8 * i));
	{
		uint32_t c = snap_crc32(0, copy, size - SNAPFILE_TRAILER);
		for (int i = 0; i < 4; i++)
			copy[size - 4 + i] = (uint8_t)(c >> (8 * i));
	}
	sn = snapshot_decode(copy, size);
	if (sn) {
		use(sn);
		snapshot_free(sn);
	}
	free(copy);
	return 0;
}
