/*
 * Unit tests: the core-file reader on a synthetic x86-64 core (built
 * here, byte by byte), then on every truncation of it and on thousands
 * of bit flips: a clear error or a valid target, never a crash (the CI
 * run under ASan makes "never a crash" mean "no invalid access").
 */
#include "config.h"
#include "tap.h"
#include "target.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEG1 0x400000ULL	/* "heap": dumped */
#define SEG2 0x7f0000000000ULL	/* file-backed text: not dumped */
#define PAGE 4096

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
note(struct buf *b, const char *name, uint32_t type, const void *desc, uint32_t descsz)
{
	uint32_t nsz = strlen(name) + 1, hdr[3] = { nsz, descsz, type };
	static const char zero[8];
	put(b, hdr, 12);
	put(b, name, nsz);
	put(b, zero, (4 - nsz % 4) % 4);
	put(b, desc, descsz);
	put(b, zero, (4 - descsz % 4) % 4);
}

static const char *textfile;

/* Build the core: notes (2 threads, auxv, NT_FILE) and two PT_LOADs. */
static struct buf
build_core(void)
{
	struct buf notes = { 0 }, core = { 0 };
	unsigned char prstatus[336];
	uint64_t auxv[] = { AT_PAGESZ, PAGE, AT_ENTRY, SEG2 + 0x10, AT_NULL, 0 };
	struct buf nf = { 0 };
	Elf64_Ehdr eh;
	Elf64_Phdr ph[3];
	size_t data_off;
	unsigned char heap[2 * PAGE];

	for (int t = 0; t < 2; t++) {
		int32_t pid = 1000 + t;
		int16_t sig = t == 0 ? 11 : 0;
		uint64_t regs[27];
		memset(prstatus, 0, sizeof(prstatus));
		memcpy(prstatus + 12, &sig, 2);
		memcpy(prstatus + 32, &pid, 4);
		for (int i = 0; i < 27; i++)
			regs[i] = 0x1000 * (t + 1) + i;
		memcpy(prstatus + 112, regs, sizeof(regs));
		note(&notes, "CORE", NT_PRSTATUS, prstatus, sizeof(prstatus));
	}
	note(&notes, "CORE", NT_AUXV, auxv, sizeof(auxv));
	{
		uint64_t hdr[2] = { 1, PAGE }, ent[3] = { SEG2, SEG2 + PAGE, 0 };
		put(&nf, hdr, 16);
		put(&nf, ent, 24);
		put(&nf, textfile, strlen(textfile) + 1);
		note(&notes, "CORE", 0x46494c45, nf.p, (uint32_t)nf.len);
		free(nf.p);
	}
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 3;
	data_off = sizeof(eh) + 3 * sizeof(Elf64_Phdr);
	memset(ph, 0, sizeof(ph));
	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = data_off;
	ph[0].p_filesz = notes.len;
	ph[1].p_type = PT_LOAD;
	ph[1].p_flags = PF_R | PF_W;
	ph[1].p_offset = ALIGN_UP(data_off + notes.len, PAGE);
	ph[1].p_vaddr = SEG1;
	ph[1].p_filesz = ph[1].p_memsz = sizeof(heap);
	ph[2].p_type = PT_LOAD;
	ph[2].p_flags = PF_R | PF_X;
	ph[2].p_offset = ph[1].p_offset + sizeof(heap);
	ph[2].p_vaddr = SEG2;
	ph[2].p_filesz = 0;
	ph[2].p_memsz = PAGE;
	put(&core, &eh, sizeof(eh));
	put(&core, ph, sizeof(ph));
	put(&core, notes.p, notes.len);
	while (core.len < ph[1].p_offset)
		put(&core, "", 1);
	for (size_t i = 0; i < sizeof(heap); i++)
		heap[i] = (unsigned char)(i * 7);
	put(&core, heap, sizeof(heap));
	free(notes.p);
	return core;
}

static char path[64];

static struct target *
open_bytes(const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	fwrite(p, 1, n, f);
	fclose(f);
	return target_open_core(path, NULL);
}

int
main(void)
{
	char textpath[64];
	struct buf core;
	struct target *t;
	unsigned char b[16];
	int opened = 0, refused = 0, badcode = 0;

	snprintf(path, sizeof(path), "/tmp/heapdbg-core-test.%d", (int)getpid());
	snprintf(textpath, sizeof(textpath), "/tmp/heapdbg-core-text.%d", (int)getpid());
	{
		FILE *f = fopen(textpath, "wb");
		for (int i = 0; i < PAGE; i++)
			fputc(0xc3 ^ (i & 0xff), f);
		fclose(f);
	}
	textfile = textpath;
	core = build_core();

	t = open_bytes(core.p, core.len);
	if (!ok(t != NULL, "synthetic core opens")) {
		diag("%s", hd_errmsg());
		return tap_done();
	}
	is_u64(t->pid, 1000, "pid from the first NT_PRSTATUS");
	is_u64(t->nthreads, 2, "two threads");
	is_u64(t->threads[0]->regs.r15, 0x1000, "registers of thread 1 (r15 is pr_reg[0])");
	is_u64(t->threads[1]->regs.fs_base, 0x2000 + 21, "fs_base of thread 2 (pr_reg[21])");
	is_u64(target_core_signal(t), 11, "signal from pr_cursig");
	{
		uint64_t v = 0;
		ok(target_auxv(t, AT_ENTRY, &v) && v == SEG2 + 0x10, "auxv AT_ENTRY");
	}
	ok(target_read(t, SEG1 + 100, b, 16) == 0 && b[0] == (unsigned char)(100 * 7), "dumped memory reads");
	ok(target_read(t, SEG1 + 2 * PAGE - 8, b, 16) < 0, "reading past a segment fails");
	ok(target_read(t, SEG2 + 5, b, 4) == 0 && b[0] == (0xc3 ^ 5), "undumped text is read from the mapped file");
	is_str(t->exe, textpath, "the executable is the NT_FILE mapping holding AT_ENTRY");
	{
		const struct mapping *m = target_find_mapping(t, SEG2);
		ok(m && m->path && !strcmp(m->path, textpath) && m->dumped == 0, "mapping named from NT_FILE");
	}
	target_close(t);

	/* every truncation */
	for (size_t n = 0; n < core.len; n += (n < 1024 ? 1 : 61)) {
		t = open_bytes(core.p, n);
		if (t) {
			opened++;
			target_close(t);
		} else {
			enum hd_err c = hd_errcode();
			refused++;
			if (c != HD_ETRUNC && c != HD_ENOTCORE && c != HD_EFORMAT)
				badcode++;
		}
	}
	ok(opened == 0, "no truncation of the core opens (%d of %d did)", opened, opened + refused);
	ok(badcode == 0, "truncations fail as truncated/not a core/corrupted (%d other codes)", badcode);

	/* bit flips in the headers and notes, and random ones */
	srand(1234);
	opened = refused = badcode = 0;
	for (int i = 0; i < 4000; i++) {
		unsigned char *copy = malloc(core.len);
		size_t limit = i < 3000 ? 1200 : core.len;
		memcpy(copy, core.p, core.len);
		for (int k = 0; k < 1 + i % 4; k++) {
			size_t pos = (size_t)rand() % limit;
			copy[pos] ^= (unsigned char)(1u << (rand() % 8));
		}
		t = open_bytes(copy, core.len);
		if (t) {
			/* whatever opened must be safe to use */
			for (size_t m = 0; m < t->nmaps; m++)
				target_read_partial(t, t->maps[m].start, b, sizeof(b));
			for (size_t th = 0; th < t->nthreads; th++)
				(void)t->threads[th]->regs.rip;
			opened++;
			target_close(t);
		} else {
			enum hd_err c = hd_errcode();
			refused++;
			if (c != HD_ETRUNC && c != HD_ENOTCORE && c != HD_EFORMAT)
				badcode++;
		}
		free(copy);
	}
	ok(opened > 0 && refused > 0, "4000 corrupted cores read without a crash: %d opened, %d refused",
	   opened, refused);
	ok(badcode == 0, "each refusal says truncated, not a core, or corrupted (%d other codes)", badcode);
	unlink(path);
	unlink(textpath);
	free(core.p);
	return tap_done();
}
