/*
 * x86dec.c - x86-64 instruction length decoding and relocation: finds the
 * length, ModRM/SIB, displacement, immediates and relative branch of one
 * instruction, and re-encodes position-dependent instructions for
 * execution at another address (displaced stepping of breakpoints).
 */
#include "config.h"
#include "x86dec.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define X86_MAX_LEN 15

/* Operand flags of an opcode. */
enum {
	F_M = 1 << 0,		/* ModRM follows */
	F_I8 = 1 << 1,		/* imm8 */
	F_IZ = 1 << 2,		/* imm16/imm32 (operand size) */
	F_I16 = 1 << 3,		/* imm16 */
	F_IV = 1 << 4,		/* imm16/32/64 (b8+r) */
	F_MO = 1 << 5,		/* moffs: 8 bytes, 4 with 67 */
	F_R8 = 1 << 6,		/* rel8 */
	F_RZ = 1 << 7,		/* rel16/rel32 */
	F_BAD = 1 << 8,		/* invalid in 64-bit mode */
	F_ENT = 1 << 9,		/* enter: imm16, imm8 */
	F_G3 = 1 << 10,		/* f6/f7: imm only for /0 and /1 */
	F_I32 = 1 << 11,	/* imm32 whatever the operand size (XOP map 10) */
	F_SPEC = 1 << 12,	/* prefix, REX, escape or VEX: handled in code */
};

#define M F_M
#define MI8 (F_M | F_I8)
#define MIZ (F_M | F_IZ)
#define I8 F_I8
#define IZ F_IZ
#define BAD F_BAD
#define SP F_SPEC
#define R8 F_R8
#define MO F_MO
#define IV F_IV

static const uint16_t one_byte[256] = {
	/* 00 */ M, M, M, M, I8, IZ, BAD, BAD, M, M, M, M, I8, IZ, BAD, SP,
	/* 10 */ M, M, M, M, I8, IZ, BAD, BAD, M, M, M, M, I8, IZ, BAD, BAD,
	/* 20 */ M, M, M, M, I8, IZ, SP, BAD, M, M, M, M, I8, IZ, SP, BAD,
	/* 30 */ M, M, M, M, I8, IZ, SP, BAD, M, M, M, M, I8, IZ, SP, BAD,
	/* 40 */ SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP,
	/* 50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 60 */ BAD, BAD, SP, M, SP, SP, SP, SP, IZ, MIZ, I8, MI8, 0, 0, 0, 0,
	/* 70 */ R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8,
	/* 80 */ MI8, MIZ, BAD, MI8, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, BAD, 0, 0, 0, 0, 0,
	/* a0 */ MO, MO, MO, MO, 0, 0, 0, 0, I8, IZ, 0, 0, 0, 0, 0, 0,
	/* b0 */ I8, I8, I8, I8, I8, I8, I8, I8, IV, IV, IV, IV, IV, IV, IV, IV,
	/* c0 */ MI8, MI8, F_I16, 0, SP, SP, MI8, MIZ, F_ENT, 0, F_I16, 0, 0, I8, BAD, 0,
	/* d0 */ M, M, M, M, BAD, BAD, BAD, 0, M, M, M, M, M, M, M, M,
	/* e0 */ R8, R8, R8, R8, I8, I8, I8, I8, F_RZ, F_RZ, BAD, R8, 0, 0, 0, 0,
	/* f0 */ SP, 0, SP, SP, 0, 0, M | F_G3, M | F_G3, 0, 0, 0, 0, 0, 0, M, M,
};

static const uint16_t two_byte[256] = {
	/* 00 */ M, M, M, M, BAD, 0, 0, 0, 0, 0, BAD, 0, BAD, M, 0, MI8,
	/* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 20 */ M, M, M, M, BAD, BAD, BAD, BAD, M, M, M, M, M, M, M, M,
	/* 30 */ 0, 0, 0, 0, 0, 0, BAD, 0, SP, BAD, SP, BAD, BAD, BAD, BAD, BAD,
	/* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 70 */ MI8, MI8, MI8, MI8, M, M, M, 0, M, M, BAD, BAD, M, M, M, M,
	/* 80 */ F_RZ, F_RZ, F_RZ, F_RZ, F_RZ, F_RZ, F_RZ, F_RZ,
		 F_RZ, F_RZ, F_RZ, F_RZ, F_RZ, F_RZ, F_RZ, F_RZ,
	/* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* a0 */ 0, 0, 0, M, MI8, M, M, M, 0, 0, 0, M, MI8, M, M, M,
	/* b0 */ M, M, M, M, M, M, M, M, M, M, MI8, M, M, M, M, M,
	/* c0 */ M, M, MI8, M, MI8, MI8, MI8, M, 0, 0, 0, 0, 0, 0, 0, 0,
	/* d0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* e0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* f0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};

#undef M
#undef MI8
#undef MIZ
#undef I8
#undef IZ
#undef BAD
#undef SP
#undef R8
#undef MO
#undef IV

static int64_t
read_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	switch (size) {
	case 1:
		return (int8_t)v;
	case 2:
		return (int16_t)v;
	case 4:
		return (int32_t)v;
	default:
		return (int64_t)v;
	}
}

static void
write_le(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

/* Flags of an opcode in a VEX, EVEX or XOP map (F_BAD for unknown maps). */
static unsigned
vex_map_flags(unsigned map, uint8_t op, bool evex)
{
	switch (map) {
	case X86_MAP_0F:
		if (op == 0x77 && !evex)
			return 0;	/* vzeroupper, vzeroall */
		if ((op >= 0x70 && op <= 0x73) || op == 0xc2 ||
		    (op >= 0xc4 && op <= 0xc6))
			return F_M | F_I8;
		return F_M;
	case X86_MAP_0F38:
		return F_M;
	case X86_MAP_0F3A:
		return F_M | F_I8;
	case X86_MAP_EVEX5:
	case X86_MAP_EVEX6:
		return evex ? F_M : F_BAD;
	case X86_MAP_XOP8:
		return F_M | F_I8;
	case X86_MAP_XOP9:
		return F_M;
	case X86_MAP_XOPA:
		return F_M | F_I32;
	}
	return F_BAD;
}

static bool
is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e:
	case 0x64: case 0x65: case 0x66: case 0x67:
	case 0xf0: case 0xf2: case 0xf3:
		return true;
	}
	return false;
}

int
x86_decode(const uint8_t *code, size_t avail, struct x86_insn *out)
{
	struct x86_insn in;
	size_t max = avail < X86_MAX_LEN ? avail : X86_MAX_LEN;
	size_t i = 0;
	unsigned flags, vex_r = 0, vex_x = 0, vex_b = 0, evex_r2 = 0;
	bool rex_w;
	uint8_t op;

	memset(&in, 0, sizeof(in));

/* Make sure n more bytes are there. */
#define NEED(n) do { if (i + (n) > max) goto short_; } while (0)

	/* Legacy prefixes; a REX not immediately before the opcode is ignored. */
	for (;;) {
		NEED(1);
		uint8_t b = code[i];
		if (is_legacy_prefix(b)) {
			if (in.rex) {
				in.rex = 0;
				in.prefixes++;
			}
			switch (b) {
			case 0x64: case 0x65:
				in.seg = b;
				break;
			case 0x66:
				in.opsize = true;
				break;
			case 0x67:
				in.adsize = true;
				break;
			case 0xf0:
				in.lock = true;
				break;
			case 0xf2:
				in.repne = true;
				in.rep = false;
				break;
			case 0xf3:
				in.rep = true;
				in.repne = false;
				break;
			}
			in.prefixes++;
			i++;
		} else if ((b & 0xf0) == 0x40) {
			if (in.rex)
				in.prefixes++;
			in.rex = b;
			i++;
		} else {
			break;
		}
	}
	in.opcode_off = i;
	rex_w = in.rex & 8;
	vex_r = (in.rex >> 2) & 1;
	vex_x = (in.rex >> 1) & 1;
	vex_b = in.rex & 1;

	op = code[i++];
	flags = one_byte[op];
	in.map = X86_MAP_ONE;
	in.opcode[0] = op;
	in.opcode_len = 1;

	if (op == 0x0f) {
		NEED(1);
		op = code[i++];
		in.opcode[1] = op;
		in.opcode_len = 2;
		if (op == 0x38 || op == 0x3a) {
			NEED(1);
			in.map = op == 0x38 ? X86_MAP_0F38 : X86_MAP_0F3A;
			op = code[i++];
			in.opcode[2] = op;
			in.opcode_len = 3;
			flags = in.map == X86_MAP_0F38 ? F_M : F_M | F_I8;
		} else {
			in.map = X86_MAP_0F;
			flags = two_byte[op];
		}
	} else if (op == 0xc4 || op == 0xc5 || op == 0x62 ||
		   (op == 0x8f && i < max && (code[i] & 0x38))) {
		/* VEX (c4, c5), EVEX (62) or XOP (8f with ModRM.reg != 0). */
		uint8_t p0, p1;

		if (in.rex || in.opsize || in.rep || in.repne || in.lock)
			goto bad;
		in.vex = true;
		NEED(1);
		p0 = code[i];
		vex_r = !(p0 & 0x80);
		if (op == 0xc5) {
			in.vex_len = 2;
			in.map = X86_MAP_0F;
			rex_w = false;
			i += 1;
		} else if (op == 0x62) {
			NEED(3);
			in.vex_len = 4;
			in.evex = true;
			p1 = code[i + 1];
			if ((p0 & 0x08) || !(p1 & 0x04))
				goto bad;
			in.map = p0 & 7;
			vex_x = !(p0 & 0x40);
			vex_b = !(p0 & 0x20);
			evex_r2 = !(p0 & 0x10);
			rex_w = p1 & 0x80;
			i += 3;
		} else {
			NEED(2);
			in.vex_len = 3;
			p1 = code[i + 1];
			in.map = p0 & 0x1f;
			vex_x = !(p0 & 0x40);
			vex_b = !(p0 & 0x20);
			rex_w = p1 & 0x80;
			if (op == 0x8f && in.map < X86_MAP_XOP8)
				goto bad;
			if (op == 0xc4 && in.map > X86_MAP_0F3A)
				goto bad;
			i += 2;
		}
		NEED(1);
		op = code[i++];
		in.opcode[0] = op;
		in.opcode_len = 1;
		flags = vex_map_flags(in.map, op, in.evex);
	} else if (flags & F_SPEC) {
		goto bad;	/* cannot happen: prefixes were consumed above */
	}

	if (flags & F_BAD)
		goto bad;

	/* Operand size: 66 gives 16 bits unless REX.W asks for 64. */
	bool osize16 = in.opsize && !rex_w;

	if (flags & F_M) {
		NEED(1);
		in.has_modrm = true;
		in.modrm = code[i++];
		in.mod = in.modrm >> 6;
		in.reg = ((in.modrm >> 3) & 7) | (vex_r << 3) | (evex_r2 << 4);
		in.rm = (in.modrm & 7) | (vex_b << 3);

		/* mov to/from control and debug registers ignore mod. */
		if (in.map == X86_MAP_0F && !in.vex && op >= 0x20 && op <= 0x23)
			in.mod = 3;

		if (in.mod == 3) {
			if (in.evex)
				in.rm |= vex_x << 4;
		} else {
			unsigned dsize = in.mod == 1 ? 1 : in.mod == 2 ? 4 : 0;

			if ((in.modrm & 7) == 4) {
				NEED(1);
				in.has_sib = true;
				in.sib = code[i++];
				in.sib_scale = 1u << (in.sib >> 6);
				in.sib_index = ((in.sib >> 3) & 7) | (vex_x << 3);
				in.sib_base = (in.sib & 7) | (vex_b << 3);
				if (in.mod == 0 && (in.sib & 7) == 5)
					dsize = 4;
			} else if (in.mod == 0 && (in.modrm & 7) == 5) {
				in.rip_relative = true;
				dsize = 4;
			}
			if (dsize) {
				NEED(dsize);
				in.disp_off = i;
				in.disp_size = dsize;
				in.disp = read_le(code + i, dsize);
				i += dsize;
			}
		}
	}

	/* Immediates. */
	unsigned isize = 0, i2size = 0;

	if (flags & F_I8)
		isize = 1;
	else if (flags & F_I16)
		isize = 2;
	else if (flags & F_I32)
		isize = 4;
	else if (flags & F_IZ)
		isize = osize16 ? 2 : 4;
	else if (flags & F_IV)
		isize = rex_w ? 8 : osize16 ? 2 : 4;
	else if (flags & F_MO)
		isize = in.adsize ? 4 : 8;
	else if (flags & F_ENT) {
		isize = 2;
		i2size = 1;
	} else if ((flags & F_G3) && (in.reg & 7) <= 1)
		isize = op == 0xf6 ? 1 : osize16 ? 2 : 4;

	/* Special cases: xbegin has a displacement instead of c7's immediate;
	 * with 66 or f2, 0f 78 is extrq/insertq with two imm8. */
	if (in.map == X86_MAP_ONE && op == 0xc7 && in.modrm == 0xf8)
		isize = 0;
	if (in.map == X86_MAP_0F && !in.vex && op == 0x78 && (in.opsize || in.repne)) {
		isize = 1;
		i2size = 1;
	}

	if (isize) {
		NEED(isize);
		in.imm_off = i;
		in.imm_size = isize;
		in.imm = read_le(code + i, isize);
		in.moffs = flags & F_MO;
		i += isize;
	}
	if (i2size) {
		NEED(i2size);
		in.imm2_off = i;
		in.imm2_size = i2size;
		in.imm2 = read_le(code + i, i2size);
		i += i2size;
	}

	/* Relative branches. */
	unsigned rsize = 0;

	if (flags & F_R8)
		rsize = 1;
	else if (flags & F_RZ)
		rsize = osize16 ? 2 : 4;
	else if (in.map == X86_MAP_ONE && op == 0xc7 && in.modrm == 0xf8)
		rsize = osize16 ? 2 : 4;	/* xbegin */
	if (rsize) {
		NEED(rsize);
		in.rel_off = i;
		in.rel_size = rsize;
		in.rel = read_le(code + i, rsize);
		i += rsize;
	}

	/* Classify. */
	in.kind = X86_OTHER;
	if (in.vex) {
		/* all position-independent but for RIP-relative operands */
	} else if (in.map == X86_MAP_ONE) {
		switch (op) {
		case 0xe8:
			in.kind = X86_CALL_REL;
			break;
		case 0xe9: case 0xeb:
			in.kind = X86_JMP_REL;
			break;
		case 0x70 ... 0x7f:
			in.kind = X86_JCC_REL;
			break;
		case 0xe0 ... 0xe3:
			in.kind = X86_LOOP_REL;
			break;
		case 0xc2: case 0xc3:
			in.kind = X86_RET;
			break;
		case 0xcc:
			in.kind = X86_INT3;
			break;
		case 0xff:
			if ((in.reg & 7) == 2)
				in.kind = X86_CALL_IND;
			else if ((in.reg & 7) == 4)
				in.kind = X86_JMP_IND;
			else if ((in.reg & 7) == 7)
				goto bad;
			break;
		}
	} else if (in.map == X86_MAP_0F) {
		if (op >= 0x80 && op <= 0x8f)
			in.kind = X86_JCC_REL;
		else if (op == 0x05)
			in.kind = X86_SYSCALL;
	}

	in.len = i;
	*out = in;
	return i;

short_:
	/* Out of bytes: truncated if avail ran out, too long otherwise. */
	memset(out, 0, sizeof(*out));
	out->kind = X86_INVALID;
	out->truncated = avail < X86_MAX_LEN;
	return -1;
bad:
	memset(out, 0, sizeof(*out));
	out->kind = X86_INVALID;
	return -1;
#undef NEED
}

uint64_t
x86_rip_target(const struct x86_insn *in, uint64_t pc)
{
	uint64_t next = pc + in->len;

	if (in->kind == X86_INVALID)
		return 0;
	if (in->rip_relative) {
		uint64_t t = next + (int64_t)in->disp;
		return in->adsize ? (uint32_t)t : t;
	}
	if (in->rel_size) {
		uint64_t t = next + in->rel;
		return in->rel_size == 2 ? (uint16_t)t : t;
	}
	return 0;
}

static bool
fits_i32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

int
x86_relocate(const uint8_t *code, const struct x86_insn *in, uint64_t from,
	     uint64_t to, uint8_t *out, size_t *outlen)
{
	unsigned len = in->len, pre = in->opcode_off;
	uint64_t target;
	int64_t d;

	*outlen = 0;
	if (in->kind == X86_INVALID || len == 0 || len > X86_MAX_LEN)
		return hd_fail(HD_ENOTSUP, "cannot relocate an invalid instruction");

	if (in->rip_relative) {
		target = x86_rip_target(in, from);
		d = (int64_t)(target - (to + len));
		/* With 67 the address wraps at 4 GiB: any displacement works. */
		if (!in->adsize && !fits_i32(d))
			return hd_fail(HD_ENOTSUP, "RIP-relative target %#" PRIx64
				       " is out of reach from %#" PRIx64, target, to);
		memcpy(out, code, len);
		write_le(out + in->disp_off, (uint64_t)d, 4);
		*outlen = len;
		return 0;
	}
	if (!in->rel_size) {
		memcpy(out, code, len);
		*outlen = len;
		return 0;
	}
	if (in->rel_size == 2)
		return hd_fail(HD_ENOTSUP, "cannot relocate a branch with a 16-bit displacement");

	target = x86_rip_target(in, from);
	if (in->rel_size == 4) {
		/* call, jmp, jcc, xbegin rel32: same bytes, new displacement. */
		d = (int64_t)(target - (to + len));
		if (!fits_i32(d))
			goto far;
		memcpy(out, code, len);
		write_le(out + in->rel_off, (uint64_t)d, 4);
		*outlen = len;
		return 0;
	}

	/* rel8 */
	if (in->opsize && !(in->rex & 8))
		return hd_fail(HD_ENOTSUP, "cannot relocate a branch with a 66 prefix");
	switch (in->kind) {
	case X86_JMP_REL:
		/* [prefixes] e9 rel32 */
		if (pre + 5 > 16)
			goto toolong;
		d = (int64_t)(target - (to + pre + 5));
		if (!fits_i32(d))
			goto far;
		memcpy(out, code, pre);
		out[pre] = 0xe9;
		write_le(out + pre + 1, (uint64_t)d, 4);
		*outlen = pre + 5;
		return 0;
	case X86_JCC_REL:
		/* [prefixes] 0f 8x rel32 */
		if (pre + 6 > 16)
			goto toolong;
		d = (int64_t)(target - (to + pre + 6));
		if (!fits_i32(d))
			goto far;
		memcpy(out, code, pre);
		out[pre] = 0x0f;
		out[pre + 1] = 0x80 | (in->opcode[0] & 0x0f);
		write_le(out + pre + 2, (uint64_t)d, 4);
		*outlen = pre + 6;
		return 0;
	case X86_LOOP_REL:
		d = (int64_t)(target - (to + len));
		if (d >= INT8_MIN && d <= INT8_MAX) {
			memcpy(out, code, len);
			out[in->rel_off] = (uint8_t)d;
			*outlen = len;
			return 0;
		}
		/* loop 1f; jmp 2f; 1: jmp target; 2: */
		if (len + 7 > 16)
			goto toolong;
		d = (int64_t)(target - (to + len + 7));
		if (!fits_i32(d))
			goto far;
		memcpy(out, code, len);
		out[in->rel_off] = 2;
		out[len] = 0xeb;
		out[len + 1] = 5;
		out[len + 2] = 0xe9;
		write_le(out + len + 3, (uint64_t)d, 4);
		*outlen = len + 7;
		return 0;
	default:
		return hd_fail(HD_ENOTSUP, "cannot relocate this rel8 instruction");
	}

far:
	return hd_fail(HD_ENOTSUP, "branch target %#" PRIx64 " is out of reach from %#" PRIx64,
		       target, to);
toolong:
	return hd_fail(HD_ENOTSUP, "relocated instruction would exceed 16 bytes");
}

const char *
x86_kind_name(enum x86_kind kind)
{
	static const char *const names[] = {
		[X86_OTHER] = "other",
		[X86_CALL_REL] = "call-rel",
		[X86_JMP_REL] = "jmp-rel",
		[X86_JCC_REL] = "jcc-rel",
		[X86_LOOP_REL] = "loop-rel",
		[X86_RET] = "ret",
		[X86_CALL_IND] = "call-ind",
		[X86_JMP_IND] = "jmp-ind",
		[X86_INT3] = "int3",
		[X86_SYSCALL] = "syscall",
		[X86_INVALID] = "invalid",
	};

	if ((unsigned)kind < ARRAY_SIZE(names) && names[kind])
		return names[kind];
	return "?";
}

const char *
x86_describe(const struct x86_insn *in, const uint8_t *code, char *buf, size_t len)
{
	size_t n = 0;
	unsigned count = in->kind == X86_INVALID || !in->len ? 1 : in->len;

	if (!len)
		return buf;
	buf[0] = 0;

#define PUT(...) do {							\
	if (n < len) {							\
		int r_ = snprintf(buf + n, len - n, __VA_ARGS__);	\
		n += r_ > 0 ? (size_t)r_ : 0;				\
	}								\
} while (0)

	for (unsigned i = 0; i < count; i++)
		PUT("%s%02x", i ? " " : "", code[i]);
	if (in->kind == X86_INVALID) {
		PUT(" (invalid)");
	} else if (in->rip_relative) {
		PUT(" (rip%s%#" PRIx64 ")", in->disp < 0 ? "-" : "+",
		    in->disp < 0 ? -(uint64_t)(int64_t)in->disp : (uint64_t)in->disp);
	} else if (in->rel_size) {
		PUT(" (%s %s%#" PRIx64 ")", x86_kind_name(in->kind), in->rel < 0 ? "-" : "+",
		    in->rel < 0 ? -(uint64_t)in->rel : (uint64_t)in->rel);
	}
#undef PUT
	return buf;
}
