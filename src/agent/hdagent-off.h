/*
 * hdagent-off.h - the offsets in hdagent.h's layout that pad.S's
 * assembly reads (its fast paths for unsampled calls while sampling).
 * Plain numbers, for the assembler too; tracer-fast.c asserts each one
 * against offsetof().  Keep them in step with the structures.
 */
#ifndef HEAPDBG_HDAGENT_OFF_H
#define HEAPDBG_HDAGENT_OFF_H

#define HDA_PRIV_SHM_OFF 8		/* struct hda_priv.shm */
#define HDA_SHM_NSLOTS_OFF 8		/* struct hda_shm.nslots (u32) */
#define HDA_SHM_SLOTS_OFF_OFF 12	/* .slots_off (u32) */
#define HDA_SHM_SAMPLE_RATE_OFF 600	/* .sample_rate (u64) */
#define HDA_SHM_SSET_OFF_OFF 608	/* .sset_off (u32) */
#define HDA_SHM_NSSET_OFF 612		/* .nsset (u32) */
#define HDA_SLOT_SHIFT 7		/* sizeof(struct hda_slot) == 1 << 7 */
#define HDA_SLOT_FLAGS_OFF 12		/* struct hda_slot.flags (u32) */
#define HDA_SLOT_SAMPLE_LEFT_OFF 64	/* .sample_left (s64) */
#define HDA_SLOT_RNG_OFF 72		/* .rng (u64) */

#endif
