/*
 * x86dec.h - an x86-64 instruction length decoder and relocator.
 *
 * x86_decode() takes apart one 64-bit-mode instruction: legacy prefixes,
 * REX, the one-byte, 0f, 0f38 and 0f3a opcode maps, VEX, EVEX and XOP,
 * ModRM/SIB/displacement and immediates.  It knows no mnemonics; it finds
 * lengths, RIP-relative operands and relative branches, which is what
 * breakpoint placement (displaced execution) and the search for GOT and
 * main_arena references in glibc need.  x86_relocate() re-encodes an
 * instruction so that it behaves the same at another address.
 *
 * Encodings whose meaning differs between CPU vendors follow objdump's
 * default (AMD64): a 66 prefix on a near branch (e8, e9, eb, 7x, 0f 8x)
 * without REX.W makes its displacement 16 bits.  x86_relocate() refuses
 * such branches.
 */
#ifndef HEAPDBG_X86DEC_H
#define HEAPDBG_X86DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum x86_kind {
	X86_OTHER,		/* anything position-independent not listed below */
	X86_CALL_REL,		/* e8 rel32 */
	X86_JMP_REL,		/* eb rel8, e9 rel32 */
	X86_JCC_REL,		/* 70-7f rel8, 0f 80-8f rel32 */
	X86_LOOP_REL,		/* e0-e3 (loop*, jrcxz) rel8 */
	X86_RET,		/* c3, c2 imm16 */
	X86_CALL_IND,		/* ff /2 */
	X86_JMP_IND,		/* ff /4 */
	X86_INT3,		/* cc */
	X86_SYSCALL,		/* 0f 05 */
	X86_INVALID,
};

/* Values of struct x86_insn.map. */
enum {
	X86_MAP_ONE = 0,	/* one-byte opcodes */
	X86_MAP_0F = 1,
	X86_MAP_0F38 = 2,
	X86_MAP_0F3A = 3,
	X86_MAP_EVEX5 = 5,	/* EVEX maps 5 and 6 (AVX512-FP16) */
	X86_MAP_EVEX6 = 6,
	X86_MAP_XOP8 = 8,	/* AMD XOP maps 8, 9 and 10 */
	X86_MAP_XOP9 = 9,
	X86_MAP_XOPA = 10,
};

struct x86_insn {
	uint8_t len;		/* total length in bytes (1..15) */
	enum x86_kind kind;
	uint8_t prefixes;	/* count of legacy prefix bytes (and ignored REX bytes) */
	uint8_t rex;		/* REX byte or 0 */
	bool vex;		/* VEX/EVEX/XOP encoded */
	uint8_t opcode[3];	/* opcode bytes (after prefixes/REX/VEX) */
	uint8_t opcode_len;
	uint8_t map;		/* 0: one-byte, 1: 0f, 2: 0f38, 3: 0f3a; X86_MAP_* */
	bool has_modrm;
	uint8_t modrm, mod, reg, rm;	/* reg and rm include REX.R / REX.B */
	bool has_sib;
	uint8_t sib;
	bool rip_relative;	/* memory operand is disp32(%rip) */
	uint8_t disp_off, disp_size;	/* where the displacement is, 0/1/2/4 bytes */
	int32_t disp;
	uint8_t imm_off, imm_size;	/* immediate operand */
	int64_t imm;
	int64_t rel;		/* relative branch displacement (sign-extended) */
	uint8_t seg;		/* 0x64 (fs) / 0x65 (gs) segment override, or 0 */

	/* Additions to the interface above. */
	uint8_t opcode_off;	/* offset of opcode[0] (or of the VEX/EVEX/XOP prefix) */
	uint8_t vex_len;	/* 2 or 3 (VEX, XOP), 4 (EVEX), else 0 */
	bool evex;		/* EVEX (disp8 is then scaled by the operand size) */
	bool opsize;		/* 66 prefix seen */
	bool adsize;		/* 67 prefix seen: 32-bit addressing */
	bool lock;		/* f0 */
	bool rep;		/* f3 */
	bool repne;		/* f2 */
	uint8_t sib_scale, sib_index, sib_base;	/* index and base include REX.X/B */
	bool moffs;		/* a0-a3: imm holds the absolute address */
	uint8_t imm2_off, imm2_size;	/* second immediate (enter, extrq, insertq) */
	int64_t imm2;
	uint8_t rel_off, rel_size;	/* the relative displacement: 0, 1, 2 or 4 bytes */
	bool truncated;		/* X86_INVALID because avail ran out */
};

/* Decode one instruction at code[0..avail).  Returns its length, or -1 for
 * an invalid or truncated encoding (out->kind = X86_INVALID). */
int x86_decode(const uint8_t *code, size_t avail, struct x86_insn *out);
/* Absolute target of a RIP-relative operand or relative branch of an
 * instruction at address pc; 0 when it has neither.  With 67 (addr32) the
 * target wraps at 4 GiB, with a 16-bit branch at 64 KiB. */
uint64_t x86_rip_target(const struct x86_insn *in, uint64_t pc);
/* Re-encode the instruction (bytes at code, decoded as in) so that it does
 * the same thing when executed at address `to` instead of `from`: RIP-relative
 * displacements and rel8/rel32 branches are adjusted, rel8 jmp/jcc are widened
 * to rel32 forms.  A loop/jrcxz whose target is out of rel8 range becomes
 * "loop 1f; jmp 2f; 1: jmp target; 2:".  Writes at most 16 bytes to out, sets
 * *outlen.  Returns 0, or -1 (hd_fail) when the target is out of +-2 GiB
 * range or the instruction cannot be moved (invalid, 66-prefixed branches,
 * a result over 16 bytes).
 * Calls stay calls: the return address pushed is the one after the copy. */
int x86_relocate(const uint8_t *code, const struct x86_insn *in, uint64_t from,
		 uint64_t to, uint8_t *out, size_t *outlen);
/* Short text for diagnostics: the bytes in hex and, where there is one, the
 * RIP-relative displacement or branch displacement, e.g.
 * "48 8b 05 78 2d 1d 00 (rip+0x1d2d78)".  Returns buf. */
const char *x86_describe(const struct x86_insn *in, const uint8_t *code, char *buf, size_t len);
/* Name of a kind ("call-rel", ...), for diagnostics and tests. */
const char *x86_kind_name(enum x86_kind kind);

#endif
