/*
 * Unit tests: x86dec.c (x86-64 length decoding and relocation), checked by
 * hand-picked encodings, by the objdump-made vectors in
 * tests/data/x86dec-vectors.txt, by disassembling all of libc.so.6 with
 * objdump and comparing every instruction, and by relocating and running
 * code in this process.
 */
#include "config.h"
#include "tap.h"
#include "util.h"
#include "x86dec.h"

#include <ctype.h>
#include <fcntl.h>
#include <gelf.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef LIBC_PATH
#define LIBC_PATH "/usr/lib/x86_64-linux-gnu/libc.so.6"
#endif

static size_t
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		unsigned v;

		while (*s == ' ')
			s++;
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			break;
		sscanf(s, "%2x", &v);
		out[n++] = v;
		s += 2;
	}
	return n;
}

/* Decode hex; returns the length, or -1. */
static int
dec(const char *hex, struct x86_insn *in)
{
	uint8_t b[32];
	size_t n = unhex(hex, b, sizeof(b));

	return x86_decode(b, n, in);
}

static void
test_lengths(void)
{
	static const struct {
		const char *hex;
		int len;
	} cases[] = {
		{ "90", 1 },
		{ "41 54", 2 },				/* push %r12 */
		{ "48 85 ff", 3 },			/* test %rdi,%rdi */
		{ "48 89 f0", 3 },			/* mov %rsi,%rax */
		{ "80 3d 71 0e 14 00 00", 7 },		/* cmpb $0,disp(%rip) */
		{ "48 8b 05 78 2d 1d 00", 7 },		/* mov disp(%rip),%rax */
		{ "48 8d 05 78 2d 1d 00", 7 },		/* lea disp(%rip),%rax */
		{ "48 b8 11 22 33 44 55 66 77 88", 10 },	/* movabs $imm64,%rax */
		{ "b8 11 22 33 44", 5 },
		{ "66 b8 11 22", 4 },
		{ "66 48 b8 11 22 33 44 55 66 77 88", 11 },	/* REX.W beats 66 */
		{ "a1 11 22 33 44 55 66 77 88", 9 },	/* moffs64 */
		{ "67 a1 11 22 33 44", 6 },		/* moffs32 */
		{ "48 a3 11 22 33 44 55 66 77 88", 10 },
		{ "f6 c1 01", 3 },			/* test $1,%cl */
		{ "f6 d1", 2 },				/* not %cl */
		{ "f7 c1 01 00 00 00", 6 },		/* test $1,%ecx */
		{ "66 f7 c1 01 00", 5 },		/* test $1,%cx */
		{ "f7 05 00 01 00 00 01 00 00 00", 10 },	/* testl $1,disp(%rip) */
		{ "f7 e1", 2 },				/* mul %ecx */
		{ "c8 10 00 01", 4 },			/* enter $0x10,$1 */
		{ "c2 08 00", 3 },
		{ "66 05 11 22", 4 },			/* add $imm16,%ax */
		{ "48 05 11 22 33 44", 6 },
		{ "66 68 11 22", 4 },			/* pushw $imm16 */
		{ "6a 01", 2 },
		{ "69 c0 11 22 33 44", 6 },
		{ "6b c0 11", 3 },
		{ "8b 04 25 11 22 33 44", 7 },		/* SIB, no base: disp32 */
		{ "8b 44 24 08", 4 },			/* disp8(%rsp) */
		{ "8b 84 24 00 01 00 00", 7 },
		{ "8b 45 00", 3 },			/* 0(%rbp) needs disp8 */
		{ "41 8b 45 00", 4 },			/* 0(%r13) likewise */
		{ "8b 04 2c", 3 },			/* (%rsp,%rbp) */
		{ "8b 44 2d 00", 4 },			/* 0(%rbp,%rbp) */
		{ "42 8b 04 25 00 00 00 00", 8 },
		{ "f3 0f 1e fa", 4 },			/* endbr64 */
		{ "0f 05", 2 },
		{ "0f 1f 44 00 00", 5 },
		{ "66 2e 0f 1f 84 00 00 00 00 00", 10 },
		{ "66 66 2e 0f 1f 84 00 00 00 00 00", 11 },
		{ "0f 20 c0", 3 },			/* mov %cr0,%rax */
		{ "0f 20 05", 3 },			/* mod ignored */
		{ "0f ba e0 03", 4 },			/* bt $3,%eax */
		{ "0f 84 00 00 00 00", 6 },
		{ "66 0f 3a 0f c1 08", 6 },		/* palignr */
		{ "66 0f 38 00 c1", 5 },		/* pshufb */
		{ "66 0f 78 c0 01 02", 6 },		/* extrq */
		{ "0f 0f c1 b4", 4 },			/* 3DNow! pfmul */
		{ "c5 f8 77", 3 },			/* vzeroupper */
		{ "c5 fd 6f 05 00 01 00 00", 8 },	/* vmovdqa disp(%rip) */
		{ "c4 e3 79 17 05 11 22 33 44 01", 10 },	/* vextractps imm8 */
		{ "c4 e2 7d 18 05 00 00 00 00", 9 },	/* vbroadcastss */
		{ "c5 f9 70 c1 1b", 5 },		/* vpshufd imm8 */
		{ "62 f1 7c 48 28 c1", 6 },		/* vmovaps %zmm1,%zmm0 */
		{ "62 f1 fd 48 6f 05 00 01 00 00", 10 },	/* vmovdqa64 rip */
		{ "62 f3 7d 48 1f c1 01", 7 },		/* vpcmpd imm8 */
		{ "8f e8 78 c0 c1 05", 6 },		/* XOP vprotb imm8 */
		{ "8f ea 78 10 c0 11 22 33 44", 9 },	/* XOP bextr imm32 */
		{ "8f c0", 2 },				/* pop %rax */
		{ "c7 f8 00 00 00 00", 6 },		/* xbegin */
		{ "c6 f8 01", 3 },			/* xabort */
		{ "f0 48 0f b1 0d 00 01 00 00", 9 },	/* lock cmpxchg rip */
		{ "64 48 8b 04 25 28 00 00 00", 9 },	/* mov %fs:0x28,%rax */
		{ "e3 10", 2 },
		{ "67 e3 10", 3 },
		{ "f2 e8 00 00 00 00", 6 },		/* bnd call */
		{ "3e ff e0", 3 },			/* notrack jmp *%rax */
		{ "ff 25 00 01 00 00", 6 },		/* jmp *disp(%rip) */
		{ "48 66 90", 3 },			/* REX before 66 is ignored */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct x86_insn in;
		int n = dec(cases[i].hex, &in);
		if (n != cases[i].len)
			ok(false, "length of %s: got %d, want %d", cases[i].hex, n, cases[i].len);
	}
	ok(true, "%zu hand-picked encodings have the right length", ARRAY_SIZE(cases));
}

static void
test_invalid(void)
{
	static const char *const bad[] = {
		"06", "07", "0e", "16", "17", "1e", "1f", "27", "2f", "37", "3f",
		"60", "61", "82 c0 01", "9a 00 00 00 00 00 00", "ce", "d4 0a",
		"d5 0a", "d6", "ea 00 00 00 00 00 00", "0f 04", "0f 0a",
		"66 c5 f8 77",		/* VEX after 66 */
		"48 c5 f8 77",		/* VEX after REX */
		"f3 62 f1 7c 48 28 c1",	/* EVEX after f3 */
		"c4 e0 79 17 c0",	/* VEX map 0 */
		"62 f4 7c 48 28 c1",	/* EVEX map 4 */
		"ff ff",		/* ff /7 */
		/* 16 bytes of prefixes: longer than 15 */
		"66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90",
	};
	bool all = true;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct x86_insn in;
		int n = dec(bad[i], &in);
		if (n != -1 || in.kind != X86_INVALID) {
			diag("%s decoded as %d bytes", bad[i], n);
			all = false;
		}
	}
	ok(all, "%zu invalid-in-64-bit encodings are rejected", ARRAY_SIZE(bad));

	struct x86_insn in;
	uint8_t movabs[] = { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 };
	all = true;
	for (size_t n = 0; n < sizeof(movabs); n++)
		if (x86_decode(movabs, n, &in) != -1 || !in.truncated)
			all = false;
	ok(all && x86_decode(movabs, sizeof(movabs), &in) == 10,
	   "truncated encodings are reported as such");
	ok(dec("66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", &in) == 15,
	   "15 bytes is the limit, not more");
}

static void
test_fields(void)
{
	struct x86_insn in;
	char buf[128];
	uint8_t b[16];
	size_t n;

	n = unhex("48 8b 05 78 2d 1d 00", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.rip_relative && in.disp == 0x1d2d78 && in.disp_off == 3 && in.disp_size == 4 &&
	   in.rex == 0x48 && in.has_modrm && in.mod == 0 && in.reg == 0 && in.rm == 5 &&
	   in.opcode[0] == 0x8b && in.opcode_len == 1 && in.map == 0 && in.kind == X86_OTHER,
	   "mov disp(%%rip),%%rax fields");
	is_u64(x86_rip_target(&in, 0x1000), 0x1000 + 7 + 0x1d2d78, "RIP-relative target");
	is_str(x86_describe(&in, b, buf, sizeof(buf)), "48 8b 05 78 2d 1d 00 (rip+0x1d2d78)",
	       "x86_describe of a RIP-relative load");

	n = unhex("80 3d 71 0e 14 00 00", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.rip_relative && in.imm_size == 1 && in.imm_off == 6 && in.imm == 0,
	   "cmpb $0,disp(%%rip): the immediate follows the displacement");
	is_u64(x86_rip_target(&in, 0x99610), 0x1da488, "cmpb target is after the immediate");

	n = unhex("4c 8b 2c c5 f8 ff ff ff", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.has_sib && in.reg == 13 && in.sib_base == 5 && in.sib_index == 0 &&
	   in.sib_scale == 8 && in.disp == -8 && !in.rip_relative,
	   "mov -8(,%%rax,8),%%r13: REX.R, SIB without base");

	n = unhex("43 8b 44 ad 10", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.rm == 12 && in.sib_base == 13 && in.sib_index == 13 && in.sib_scale == 4 &&
	   in.disp_size == 1 && in.disp == 0x10, "REX.X and REX.B reach SIB index and base");

	n = unhex("64 48 8b 04 25 28 00 00 00", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.seg == 0x64 && in.prefixes == 1 && in.disp == 0x28 && !in.rip_relative,
	   "fs segment override");

	n = unhex("48 b8 88 77 66 55 44 33 22 11", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.imm_size == 8 && in.imm == 0x1122334455667788, "movabs imm64");

	n = unhex("c8 10 00 01", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.imm_size == 2 && in.imm == 0x10 && in.imm2_size == 1 && in.imm2 == 1, "enter operands");

	n = unhex("e8 fb ff ff ff", b, sizeof(b));
	x86_decode(b, n, &in);
	ok(in.kind == X86_CALL_REL && in.rel == -5 && in.rel_size == 4 && in.rel_off == 1,
	   "call rel32");
	is_u64(x86_rip_target(&in, 0x5000), 0x5000, "call to itself");
	is_str(x86_describe(&in, b, buf, sizeof(buf)), "e8 fb ff ff ff (call-rel -0x5)",
	       "x86_describe of a call");

	static const struct {
		const char *hex;
		enum x86_kind kind;
	} kinds[] = {
		{ "eb 00", X86_JMP_REL }, { "e9 00 00 00 00", X86_JMP_REL },
		{ "7f 00", X86_JCC_REL }, { "0f 8f 00 00 00 00", X86_JCC_REL },
		{ "2e 74 00", X86_JCC_REL }, { "e0 00", X86_LOOP_REL },
		{ "e3 00", X86_LOOP_REL }, { "c3", X86_RET }, { "c2 08 00", X86_RET },
		{ "f3 c3", X86_RET }, { "ff d0", X86_CALL_IND },
		{ "ff 15 00 00 00 00", X86_CALL_IND }, { "41 ff e3", X86_JMP_IND },
		{ "3e ff e0", X86_JMP_IND }, { "cc", X86_INT3 }, { "0f 05", X86_SYSCALL },
		{ "ff 30", X86_OTHER }, { "cd 03", X86_OTHER }, { "c7 f8 00 00 00 00", X86_OTHER },
		{ "c5 f8 77", X86_OTHER },
	};
	bool all = true;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (dec(kinds[i].hex, &in) < 0 || in.kind != kinds[i].kind) {
			diag("%s: kind %s, want %s", kinds[i].hex, x86_kind_name(in.kind),
			     x86_kind_name(kinds[i].kind));
			all = false;
		}
	}
	ok(all, "instruction kinds");

	n = unhex("c4 c1 79 6f 45 10", b, sizeof(b));	/* vmovdqa 0x10(%r13),%xmm0 */
	x86_decode(b, n, &in);
	ok(in.vex && in.vex_len == 3 && in.map == 1 && in.opcode[0] == 0x6f && in.rm == 13 &&
	   in.disp == 0x10, "VEX fields");
	n = unhex("62 61 7c 48 28 c1", b, sizeof(b));	/* vmovaps %zmm1,%zmm24 */
	x86_decode(b, n, &in);
	ok(in.vex && in.evex && in.vex_len == 4 && in.reg == 24 && in.rm == 1, "EVEX register fields");
}

/* tests/data/x86dec-vectors.txt */
static void
test_vectors(void)
{
	const char *top = getenv("TOP");
	char path[4096], *line = NULL;
	size_t cap = 0, count = 0, bad = 0, targets = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/x86dec-vectors.txt", top ? top : ".");
	f = fopen(path, "r");
	if (!f) {
		ok(false, "open %s", path);
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		uint8_t b[32];
		struct x86_insn in;
		size_t n;
		int got, gotlong, gotshort;
		char *sp;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (n = 0; n < 16 && isxdigit((unsigned char)line[2 * n]) &&
		     isxdigit((unsigned char)line[2 * n + 1]); n++) {
			unsigned v;
			sscanf(line + 2 * n, "%2x", &v);
			b[n] = v;
		}
		count++;
		memset(b + n, 0x90, sizeof(b) - n);
		gotshort = x86_decode(b, n - 1, &in);
		gotlong = x86_decode(b, sizeof(b), &in);
		got = x86_decode(b, n, &in);
		if (got != (int)n || gotlong != (int)n || gotshort != -1) {
			if (bad++ < 20)
				diag("vector %.*s: length %d (%d with more bytes), want %zu",
				     (int)(2 * n), line, got, gotlong, n);
			continue;
		}
		sp = strchr(line, ' ');
		if (sp) {
			int64_t want = strtoll(sp + 1, NULL, 16);
			uint64_t pc = 0x7f1234560000;
			targets++;
			if (x86_rip_target(&in, pc) - pc != (uint64_t)want) {
				if (bad++ < 20)
					diag("vector %.*s: target %+" PRId64 ", want %+" PRId64,
					     (int)(2 * n), line,
					     (int64_t)(x86_rip_target(&in, pc) - pc), want);
			}
		}
	}
	free(line);
	fclose(f);
	ok(count > 1000 && bad == 0, "objdump vectors: %zu lengths and %zu targets, %zu wrong",
	   count, targets, bad);
}

/* The executable sections of an ELF file, for the objdump comparison. */
struct exec_sec {
	uint64_t addr, size;
	const uint8_t *data;
};

struct elf_file {
	int fd;
	Elf *elf;
	VEC(struct exec_sec) secs;
};

static int
elf_file_open(struct elf_file *ef, const char *path)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	memset(ef, 0, sizeof(*ef));
	elf_version(EV_CURRENT);
	ef->fd = open(path, O_RDONLY);
	if (ef->fd < 0)
		return -1;
	ef->elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	if (!ef->elf) {
		close(ef->fd);
		return -1;
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		if (!(sh.sh_flags & SHF_EXECINSTR))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		struct exec_sec s = { sh.sh_addr, d->d_size, d->d_buf };
		vec_push(&ef->secs, s);
	}
	return 0;
}

static void
elf_file_close(struct elf_file *ef)
{
	vec_free(&ef->secs);
	elf_end(ef->elf);
	close(ef->fd);
}

/* Bytes at addr, and how many follow in the same section. */
static const uint8_t *
elf_file_at(struct elf_file *ef, uint64_t addr, size_t *avail)
{
	for (size_t i = 0; i < ef->secs.n; i++) {
		struct exec_sec *s = &ef->secs.v[i];
		if (addr >= s->addr && addr < s->addr + s->size) {
			*avail = s->addr + s->size - addr;
			return s->data + (addr - s->addr);
		}
	}
	return NULL;
}

/* The value of a dynamic symbol (0 if not found). */
static uint64_t
elf_file_dynsym(struct elf_file *ef, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;
			if (!gelf_getsym(d, i, &sym) || !sym.st_value)
				continue;
			n = elf_strptr(ef->elf, sh.sh_link, sym.st_name);
			if (n && !strcmp(n, name) && GELF_ST_TYPE(sym.st_info) == STT_FUNC)
				return sym.st_value;
		}
	}
	return 0;
}

static bool
is_prefix_word(const char *w, size_t n)
{
	static const char *const words[] = {
		"bnd", "notrack", "data16", "addr32", "lock", "rep", "repz", "repnz",
		"cs", "ds", "es", "ss", "fs", "gs", "xacquire", "xrelease",
	};

	if (n >= 3 && !strncmp(w, "rex", 3))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strlen(words[i]) == n && !strncmp(w, words[i], n))
			return true;
	return false;
}

static bool
only_prefixes(const char *text)
{
	for (const char *p = text;;) {
		size_t n;
		while (*p == ' ')
			p++;
		if (!*p)
			return true;
		n = strcspn(p, " ");
		if (!is_prefix_word(p, n))
			return false;
		p += n;
	}
}

/* What objdump's text says the kind is; *target is the first operand if it
 * is a bare number (a direct branch target). */
static enum x86_kind
objdump_kind(const char *text, uint64_t *target, bool *has_target)
{
	const char *p = text, *mn;
	size_t n, len;

	*has_target = false;
	for (;;) {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (!is_prefix_word(p, n))
			break;
		p += n;
	}
	mn = p;
	p += n;
	while (*p == ' ')
		p++;
	if (isxdigit((unsigned char)*p)) {
		*target = strtoull(p, NULL, 16);
		*has_target = true;
	}
	/* The mnemonic without a ",pt"/",pn" hint and a "w"/"q" size suffix. */
	len = strcspn(mn, ", ");
	if (len > 3 && (mn[len - 1] == 'w' || mn[len - 1] == 'q') &&
	    (!strncmp(mn, "call", 4) || !strncmp(mn, "jmp", 3) || !strncmp(mn, "ret", 3)))
		len--;
#define IS(s) (len == strlen(s) && !strncmp(mn, s, len))
	if (!strncmp(mn, "loop", 4) || IS("jrcxz") || IS("jecxz"))
		return X86_LOOP_REL;
	if (IS("call"))
		return *p == '*' ? X86_CALL_IND : X86_CALL_REL;
	if (IS("jmp"))
		return *p == '*' ? X86_JMP_IND : X86_JMP_REL;
	if (mn[0] == 'j')
		return X86_JCC_REL;
	if (IS("ret"))
		return X86_RET;
	if (IS("int3"))
		return X86_INT3;
	if (IS("syscall"))
		return X86_SYSCALL;
#undef IS
	return X86_OTHER;
}

/*
 * The length x86_decode should find for an instruction objdump says is nb
 * bytes long.  They differ where x86_decode follows the CPU: objdump merges
 * fwait (9b) with the x87 instruction after it, and shows VEX, EVEX and XOP
 * after REX, 66, f2, f3 or f0, which fault (#UD): -1.  Mirrors
 * deliberate_difference() in tests/data/gen-x86dec-vectors.py.
 */
static int
expected_len(const uint8_t *code, size_t nb)
{
	bool bad_pfx = false;
	size_t i = 0;

	for (; i < nb; i++) {
		uint8_t b = code[i];
		if ((b & 0xf0) == 0x40 || b == 0x66 || b == 0xf2 || b == 0xf3 || b == 0xf0)
			bad_pfx = true;
		else if (b != 0x26 && b != 0x2e && b != 0x36 && b != 0x3e &&
			 b != 0x64 && b != 0x65 && b != 0x67)
			break;
	}
	if (i >= nb)
		return nb;
	if (code[i] == 0x9b)
		return i + 1;
	if (bad_pfx && (code[i] == 0xc4 || code[i] == 0xc5 || code[i] == 0x62 ||
			(code[i] == 0x8f && i + 1 < nb && (code[i + 1] & 0x38))))
		return -1;
	return nb;
}

/* Every instruction objdump finds in libc.so.6 against x86_decode. */
static void
test_libc_objdump(void)
{
	struct elf_file ef;
	FILE *p;
	char *line = NULL;
	size_t cap = 0, checked = 0, skipped = 0, len_bad = 0, kind_bad = 0, tgt_bad = 0;
	size_t rip = 0, branches = 0, differ = 0;

	if (access(LIBC_PATH, R_OK) || elf_file_open(&ef, LIBC_PATH) < 0) {
		tap_skip(1, "no " LIBC_PATH);
		return;
	}
	p = popen("LC_ALL=C objdump -d -w " LIBC_PATH " 2>/dev/null", "r");
	if (!p) {
		elf_file_close(&ef);
		tap_skip(1, "cannot run objdump");
		return;
	}
	while (getline(&line, &cap, p) > 0) {
		char *s = line, *end, *text;
		uint64_t addr, want_target;
		uint8_t bytes[32];
		size_t nb = 0, avail;
		const uint8_t *code;
		struct x86_insn in;
		bool has_target;
		int got, want_len;

		line[strcspn(line, "\n")] = 0;
		while (*s == ' ')
			s++;
		addr = strtoull(s, &end, 16);
		if (end == s || end[0] != ':' || end[1] != '\t')
			continue;
		s = end + 2;
		while (isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) &&
		       (s[2] == ' ' || s[2] == '\t' || !s[2]) && nb < sizeof(bytes)) {
			unsigned v;
			sscanf(s, "%2x", &v);
			bytes[nb++] = v;
			s += 2;
			while (*s == ' ')
				s++;
		}
		if (!nb)
			continue;
		text = *s == '\t' ? s + 1 : s;
		/* Data in code: "(bad)", or a bare prefix ("rex.W" alone is how
		 * objdump shows a REX byte before a legacy prefix). */
		if (strstr(text, "(bad)") || only_prefixes(text) || text[0] == '.' || nb > 15) {
			skipped++;
			continue;
		}
		code = elf_file_at(&ef, addr, &avail);
		if (!code || avail < nb || memcmp(code, bytes, nb)) {
			skipped++;
			continue;
		}
		checked++;
		want_len = expected_len(code, nb);
		got = x86_decode(code, avail, &in);
		if (want_len != (int)nb) {
			/* fwait then an x87 instruction, or VEX after a prefix */
			differ++;
			if (got != want_len || (got > 0 &&
			    x86_decode(code + got, avail - got, &in) != (int)nb - got)) {
				if (len_bad++ < 20)
					diag("libc %#" PRIx64 ": %s: length %d, want %d",
					     addr, text, got, want_len);
			}
			continue;
		}
		if (got != (int)nb) {
			if (len_bad++ < 20)
				diag("libc %#" PRIx64 ": %s: length %d, objdump %zu",
				     addr, text, got, nb);
			continue;
		}
		enum x86_kind want = objdump_kind(text, &want_target, &has_target);
		if (want != in.kind) {
			if (kind_bad++ < 20)
				diag("libc %#" PRIx64 ": %s: kind %s, objdump %s", addr, text,
				     x86_kind_name(in.kind), x86_kind_name(want));
		}
		if (in.rip_relative) {
			const char *c = strstr(text, "# ");
			rip++;
			uint64_t want_rip = c ? strtoull(c + 2, NULL, 16) : 0;
			/* objdump sign-extends an addr32 target; the CPU zero-extends */
			if (in.adsize)
				want_rip = (uint32_t)want_rip;
			if (!c || want_rip != x86_rip_target(&in, addr)) {
				if (tgt_bad++ < 20)
					diag("libc %#" PRIx64 ": %s: target %#" PRIx64, addr, text,
					     x86_rip_target(&in, addr));
			}
		} else if (in.rel_size) {
			branches++;
			if (!has_target || want_target != x86_rip_target(&in, addr)) {
				if (tgt_bad++ < 20)
					diag("libc %#" PRIx64 ": %s: target %#" PRIx64, addr, text,
					     x86_rip_target(&in, addr));
			}
		}
	}
	free(line);
	pclose(p);
	elf_file_close(&ef);
	if (!checked) {
		tap_skip(1, "objdump printed nothing");
		return;
	}
	diag("%s (glibc %s): %zu instructions checked against objdump "
	     "(%zu data skipped; %zu where it differs on purpose), %zu RIP-relative, "
	     "%zu relative branches", LIBC_PATH, gnu_get_libc_version(), checked,
	     skipped, differ, rip, branches);
	ok(checked > 100000 && len_bad == 0 && kind_bad == 0 && tgt_bad == 0,
	   "libc vs objdump: %zu instructions, %zu length, %zu kind, %zu target mismatches",
	   checked, len_bad, kind_bad, tgt_bad);
}

/*
 * Relocate code (decoded as in) from `from` to `to`, check that the result
 * decodes to the same kind and target.  Returns false with a diagnostic.
 */
static bool
reloc_same(const char *what, const uint8_t *code, const struct x86_insn *in,
	   uint64_t from, uint64_t to, uint8_t *out, size_t *outlen)
{
	struct x86_insn o;
	char b1[80], b2[80];

	if (x86_relocate(code, in, from, to, out, outlen) < 0) {
		diag("%s: %s", what, hd_errmsg());
		return false;
	}
	if (x86_decode(out, *outlen, &o) < 0) {
		diag("%s: relocated bytes do not decode", what);
		return false;
	}
	if (in->kind == X86_LOOP_REL && *outlen > o.len) {
		/* loop 1f; jmp 2f; 1: jmp target; 2: */
		if (x86_decode(out + o.len + 2, *outlen - o.len - 2, &o) < 0 ||
		    o.kind != X86_JMP_REL ||
		    x86_rip_target(&o, to + *outlen - 5) != x86_rip_target(in, from)) {
			diag("%s: bad loop expansion", what);
			return false;
		}
		return true;
	}
	if (o.kind != in->kind || x86_rip_target(&o, to) != x86_rip_target(in, from) ||
	    (in->rip_relative && o.len != in->len)) {
		diag("%s: %s at %#" PRIx64 " became %s at %#" PRIx64, what,
		     x86_describe(in, code, b1, sizeof(b1)), from,
		     x86_describe(&o, out, b2, sizeof(b2)), to);
		return false;
	}
	return true;
}

static void
test_reloc_libc(void)
{
	static const struct {
		const char *sym, *hex236;	/* first instruction in glibc 2.36 */
	} entries[] = {
		{ "malloc", "41 54" },
		{ "free", "48 85 ff" },
		{ "calloc", "41 55" },
		{ "realloc", "41 57" },
		{ "memalign", "80 3d" },
		{ "aligned_alloc", "80 3d" },
		{ "valloc", "80 3d" },
		{ "pvalloc", "80 3d" },
		{ "posix_memalign", "80 3d" },
		{ "reallocarray", "48 89 f0" },
		{ "malloc_usable_size", NULL },
		{ "malloc_trim", NULL },
	};
	struct elf_file ef;
	bool glibc236 = !strcmp(gnu_get_libc_version(), "2.36");
	size_t nrip = 0;

	if (access(LIBC_PATH, R_OK) || elf_file_open(&ef, LIBC_PATH) < 0) {
		tap_skip(3, "no " LIBC_PATH);
		return;
	}
	bool all = true, far_ok = true, first_ok = true;
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		uint64_t from = elf_file_dynsym(&ef, entries[i].sym);
		const uint8_t *code;
		struct x86_insn in;
		uint8_t out[16], want[8];
		size_t avail, outlen;
		char desc[80];

		if (!from || !(code = elf_file_at(&ef, from, &avail))) {
			diag("%s: not found in " LIBC_PATH, entries[i].sym);
			all = false;
			continue;
		}
		if (x86_decode(code, avail, &in) < 0) {
			diag("%s: first instruction does not decode", entries[i].sym);
			all = false;
			continue;
		}
		diag("%s at %#" PRIx64 ": %s", entries[i].sym, from,
		     x86_describe(&in, code, desc, sizeof(desc)));
		if (glibc236 && entries[i].hex236) {
			size_t n = unhex(entries[i].hex236, want, sizeof(want));
			if (memcmp(code, want, n))
				first_ok = false;
		}
		/* Pretend libc is mapped at a typical address. */
		from += 0x7f0000000000;
		all &= reloc_same(entries[i].sym, code, &in, from, from + 0x40000000,
				  out, &outlen);
		all &= reloc_same(entries[i].sym, code, &in, from, from - 0x7f000000,
				  out, &outlen);
		if (!in.rip_relative) {
			all &= outlen == in.len && !memcmp(out, code, in.len);
			continue;
		}
		nrip++;
		/* 3 GiB away the displacement cannot reach. */
		hd_clear_error();
		if (x86_relocate(code, &in, from, from + 0xc0000000, out, &outlen) != -1 ||
		    hd_errcode() != HD_ENOTSUP)
			far_ok = false;
		if (x86_relocate(code, &in, from, from - 0xc0000000, out, &outlen) != -1)
			far_ok = false;
	}
	elf_file_close(&ef);
	ok(all, "allocator entry points relocate within +-2 GiB keeping their targets");
	ok(far_ok && (!glibc236 || nrip == 5),
	   "RIP-relative entry instructions (%zu) refuse to move 3 GiB", nrip);
	if (glibc236)
		ok(first_ok, "glibc 2.36 entry points start as expected");
	else
		tap_skip(1, "not glibc 2.36");
}

static void
test_reloc_synthetic(void)
{
	static const struct {
		const char *hex;
		unsigned newlen;	/* 0: same as the original */
	} cases[] = {
		{ "eb 10", 5 },				/* jmp rel8 -> e9 */
		{ "eb 80", 5 },
		{ "2e eb 10", 6 },
		{ "74 10", 6 },				/* je rel8 -> 0f 84 */
		{ "7f f0", 6 },
		{ "3e 75 10", 7 },			/* hinted jne */
		{ "e8 00 01 00 00", 0 },
		{ "f2 e8 00 01 00 00", 0 },		/* bnd call */
		{ "e9 00 ff ff ff", 0 },
		{ "0f 85 00 01 00 00", 0 },
		{ "ff 15 00 01 00 00", 0 },		/* call *disp(%rip) */
		{ "ff 25 00 01 00 00", 0 },
		{ "48 8b 05 78 2d 1d 00", 0 },
		{ "4c 8d 3d 00 00 00 c0", 0 },		/* lea -1GiB(%rip),%r15 */
		{ "c5 fd 6f 05 00 01 00 00", 0 },
		{ "62 f1 fd 48 6f 05 00 01 00 00", 0 },
		{ "c4 e3 79 17 05 11 22 33 00 01", 0 },
		{ "c7 f8 00 01 00 00", 0 },		/* xbegin */
		{ "e2 10", 9 },				/* loop, far: expanded */
		{ "67 e3 10", 10 },			/* jecxz, far: expanded */
		{ "41 54", 0 },
		{ "c3", 0 },
		{ "0f 05", 0 },
	};
	const uint64_t from = 0x7f0000401000, to = 0x7f0010000000;
	bool all = true;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t code[16], out[16];
		struct x86_insn in;
		size_t n = unhex(cases[i].hex, code, sizeof(code)), outlen;

		if (x86_decode(code, n, &in) != (int)n) {
			diag("%s does not decode", cases[i].hex);
			all = false;
			continue;
		}
		if (!reloc_same(cases[i].hex, code, &in, from, to, out, &outlen) ||
		    outlen != (cases[i].newlen ? cases[i].newlen : n)) {
			diag("%s: relocated to %zu bytes", cases[i].hex, outlen);
			all = false;
		}
	}
	ok(all, "%zu position-dependent instructions relocate", ARRAY_SIZE(cases));

	/* The expanded loop: loop 1f; jmp 2f; 1: jmp target; 2: */
	{
		uint8_t code[] = { 0xe2, 0x10 }, out[16];
		struct x86_insn in, a, b, c;
		size_t outlen;

		x86_decode(code, 2, &in);
		x86_relocate(code, &in, from, to, out, &outlen);
		x86_decode(out, outlen, &a);
		x86_decode(out + 2, outlen - 2, &b);
		x86_decode(out + 4, outlen - 4, &c);
		ok(a.kind == X86_LOOP_REL && x86_rip_target(&a, to) == to + 4 &&
		   b.kind == X86_JMP_REL && x86_rip_target(&b, to + 2) == to + 9 &&
		   c.kind == X86_JMP_REL && x86_rip_target(&c, to + 4) == from + 0x12,
		   "far loop becomes loop/jmp/jmp");
		/* near: a plain rel8 adjustment */
		ok(x86_relocate(code, &in, from, from + 0x10, out, &outlen) == 0 && outlen == 2 &&
		   out[0] == 0xe2 && out[1] == 0x00, "near loop keeps its form");
	}

	/* Refusals. */
	static const char *const refuse[] = {
		"66 e8 00 01",		/* 16-bit call */
		"66 e9 00 01",
		"66 eb 10",
		"66 74 10",
		"66 c7 f8 00 01",	/* xbeginw */
		/* 13 prefixes: the widened je would take 19 bytes */
		"2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 74 10",
	};
	all = true;
	for (size_t i = 0; i < ARRAY_SIZE(refuse); i++) {
		uint8_t code[16], out[16];
		struct x86_insn in;
		size_t n = unhex(refuse[i], code, sizeof(code)), outlen;

		if (x86_decode(code, n, &in) != (int)n ||
		    x86_relocate(code, &in, from, to, out, &outlen) != -1) {
			diag("%s was relocated", refuse[i]);
			all = false;
		}
	}
	ok(all, "16-bit branches and too long results are refused");

	{
		uint8_t code[] = { 0xe8, 0, 0, 0, 0 }, out[16];
		struct x86_insn in;
		size_t outlen;

		x86_decode(code, sizeof(code), &in);
		ok(x86_relocate(code, &in, from, from + 0x80000001ull, out, &outlen) == -1 &&
		   hd_errcode() == HD_ENOTSUP && outlen == 0, "call 2 GiB + 1 away fails");
		ok(x86_relocate(code, &in, from, from + 0x80000000ull, out, &outlen) == 0,
		   "call exactly 2 GiB away works (rel32 -0x80000000)");
		code[0] = 0xeb;
		x86_decode(code, 2, &in);
		ok(x86_relocate(code, &in, from, from - 0x90000000ull, out, &outlen) == -1,
		   "jmp rel8 2.25 GiB away fails");
		in.kind = X86_INVALID;
		ok(x86_relocate(code, &in, from, to, out, &outlen) == -1,
		   "an invalid instruction is refused");
	}
	{
		/* addr32 lea: the address wraps at 4 GiB, so any distance works */
		uint8_t code[] = { 0x67, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00 }, out[16];
		struct x86_insn in, o;
		size_t outlen;

		x86_decode(code, sizeof(code), &in);
		ok(x86_relocate(code, &in, 0x1000, 0x7f0000000000, out, &outlen) == 0 &&
		   x86_decode(out, outlen, &o) == 7 &&
		   x86_rip_target(&o, 0x7f0000000000) == 0x1107, "addr32 RIP-relative lea");
	}
}

/*
 * Relocate real code and run it: the copies must compute what the
 * originals would have.
 */
static void
test_reloc_exec(void)
{
	uint8_t *a, *b;
	size_t outlen;
	struct x86_insn in;
	int (*fn)(void);
	long (*lfn)(void);

	a = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		tap_skip(4, "no executable mappings");
		return;
	}
	memset(a, 0xcc, 8192);
	/* a+0x100: mov $42,%eax; ret    a+0x200: mov $99,%eax; ret */
	memcpy(a + 0x100, "\xb8\x2a\x00\x00\x00\xc3", 6);
	memcpy(a + 0x200, "\xb8\x63\x00\x00\x00\xc3", 6);

	/* lea 0x1000(%rip),%rax at a+0x10 -> a+0x1017 */
	{
		uint8_t lea[] = { 0x48, 0x8d, 0x05, 0xf0, 0x0f, 0x00, 0x00 };
		memset(b, 0xcc, 4096);
		x86_decode(lea, sizeof(lea), &in);
		x86_relocate(lea, &in, (uintptr_t)a + 0x10, (uintptr_t)b, b, &outlen);
		b[outlen] = 0xc3;
		lfn = (long (*)(void))b;
		is_u64(lfn(), (uintptr_t)a + 0x1007, "relocated lea computes the same address");
	}
	/* xor %eax,%eax; [je a+0x100 from a+0xa0]; mov $7,%eax; ret */
	{
		uint8_t je[] = { 0x74, 0x5e };
		size_t o = 2;
		memset(b, 0xcc, 4096);
		memcpy(b, "\x31\xc0", 2);
		x86_decode(je, sizeof(je), &in);
		x86_relocate(je, &in, (uintptr_t)a + 0xa0, (uintptr_t)b + o, b + o, &outlen);
		memcpy(b + o + outlen, "\xb8\x07\x00\x00\x00\xc3", 6);
		fn = (int (*)(void))b;
		is_u64(fn(), 42, "relocated je is taken to the original target");
	}
	/* [call a+0x200 from a+0x20]; ret */
	{
		uint8_t call[] = { 0xe8, 0xdb, 0x01, 0x00, 0x00 };
		memset(b, 0xcc, 4096);
		x86_decode(call, sizeof(call), &in);
		x86_relocate(call, &in, (uintptr_t)a + 0x20, (uintptr_t)b, b, &outlen);
		b[outlen] = 0xc3;
		fn = (int (*)(void))b;
		is_u64(fn(), 99, "relocated call reaches the original callee and returns");
	}
	/* mov $N,%ecx; [loop a+0x100 from a+0x80, expanded]; mov $7,%eax; ret */
	{
		uint8_t loop[] = { 0xe2, 0x7e };
		bool good = true;
		for (int cnt = 1; cnt <= 2; cnt++) {
			memset(b, 0xcc, 4096);
			memcpy(b, "\xb9\x00\x00\x00\x00", 5);
			b[1] = cnt;
			x86_decode(loop, sizeof(loop), &in);
			x86_relocate(loop, &in, (uintptr_t)a + 0x80, (uintptr_t)b + 5, b + 5, &outlen);
			memcpy(b + 5 + outlen, "\xb8\x07\x00\x00\x00\xc3", 6);
			fn = (int (*)(void))b;
			/* ecx 1: falls through (7); ecx 2: taken (42) */
			good &= fn() == (cnt == 1 ? 7 : 42) && outlen == 9;
		}
		ok(good, "expanded loop falls through and branches like the original");
	}
	munmap(a, 8192);
	munmap(b, 4096);
}

int
main(void)
{
	test_lengths();
	test_invalid();
	test_fields();
	test_vectors();
	test_libc_objdump();
	test_reloc_libc();
	test_reloc_synthetic();
	test_reloc_exec();
	return tap_done();
}
