#!/usr/bin/env python3
# gen-x86dec-vectors.py - make tests/data/x86dec-vectors.txt, the x86-64
# instruction length vectors tests/unit/x86dec.c checks x86_decode against.
#
# Builds candidate instructions opcode by opcode in every map (one-byte, 0f,
# 0f38, 0f3a, VEX, EVEX, XOP) with varied prefixes, REX, ModRM, SIB and
# displacements, lets objdump (the oracle) disassemble them, and keeps each
# one objdump decodes (not "(bad)", not a bare prefix, not one of the
# deliberate differences below) as its bytes plus,
# for RIP-relative operands and relative branches, the target relative to
# the instruction's address.  Deterministic (fixed seed).  Run once from the
# top directory after changing it:
#
#	python3 tests/data/gen-x86dec-vectors.py > tests/data/x86dec-vectors.txt
#
# Needs objdump (GNU binutils); was run with binutils 2.40.

import os
import random
import re
import subprocess
import sys
import tempfile

SLOT = 32		# each candidate: 16 bytes, then 16 nops to resync
rng = random.Random(20240601)

LEGACY = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65]
PREFIX_WORDS = {
	'data16', 'data32', 'addr32', 'addr16', 'lock', 'rep', 'repz', 'repnz',
	'repe', 'repne', 'cs', 'ds', 'ss', 'es', 'fs', 'gs', 'bnd', 'notrack',
	'xacquire', 'xrelease',
}
MANDATORY = [[], [0x66], [0xf2], [0xf3]]
PER_KEY = 3
BRANCHES = re.compile(r'^(?:bnd |notrack |data16 |rex\S* )*'
		      r'(call[wq]?|jmp[wq]?|j[a-z]+(?:,p[nt])?|loop[a-z]*|jrcxz|jecxz|xbegin[wq]?)\s+0x([0-9a-f]+)$')


def deliberate_difference(code):
	"""Encodings where x86_decode follows the CPU, not objdump: objdump
	merges fwait (9b) with the x87 instruction after it, and accepts VEX,
	EVEX and XOP after REX, 66, f2, f3 or f0, which fault (#UD)."""
	i = 0
	seen = set()
	while i < len(code) and (code[i] in LEGACY or 0x40 <= code[i] <= 0x4f):
		seen.add(code[i] if code[i] in LEGACY else 0x40)
		i += 1
	if i >= len(code):
		return False
	op = code[i]
	if op == 0x9b:
		return True
	vex = op in (0xc4, 0xc5, 0x62) or (op == 0x8f and i + 1 < len(code) and
					    code[i + 1] & 0x38)
	return bool(vex and seen & {0x40, 0x66, 0xf2, 0xf3, 0xf0})


def rand_prefixes(allow_vex_illegal=True):
	"""Zero to three legacy prefixes, mostly none."""
	r = rng.random()
	n = 0 if r < 0.55 else 1 if r < 0.85 else 2 if r < 0.95 else 3
	pool = LEGACY if allow_vex_illegal else [0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65]
	return [rng.choice(pool) for _ in range(n)]


def rand_modrm_tail():
	"""A ModRM byte biased to the interesting forms, then random bytes."""
	mod = rng.randrange(4)
	r = rng.random()
	rm = 4 if r < 0.3 else 5 if r < 0.55 else rng.randrange(8)
	reg = rng.randrange(8)
	out = [(mod << 6) | (reg << 3) | rm]
	if mod != 3 and rm == 4:
		base = 5 if rng.random() < 0.4 else rng.randrange(8)
		out.append((rng.randrange(256) & 0xf8) | base)
	return out


def candidates():
	"""Yield (bytes, key): objdump's accepted ones are kept a few per key."""
	for op in range(256):
		if op in LEGACY or 0x40 <= op <= 0x4f or op in (0x0f, 0xc4, 0xc5, 0x62):
			continue
		for _ in range(6):
			rex = [rng.randrange(0x40, 0x50)] if rng.random() < 0.35 else []
			if op == 0x8f:
				tail = [rng.randrange(256) & 0xc7]
				yield rand_prefixes() + rex + [op] + tail, ('1', op)
			else:
				yield rand_prefixes() + rex + [op] + rand_modrm_tail(), ('1', op)
	# f6/f7 and c6/c7 every ModRM.reg, with and without 66 and REX.W
	for op in (0xf6, 0xf7, 0xc6, 0xc7, 0xff, 0xfe):
		for reg in range(8):
			for pfx in ([], [0x66], [0x48], [0x66, 0x48]):
				yield pfx + [op, 0xc0 | reg << 3], ('g', op, reg, len(pfx))
				yield pfx + [op, 0x05 | reg << 3], ('G', op, reg, len(pfx))
	yield [0xc7, 0xf8], 'xbegin'
	yield [0x66, 0xc7, 0xf8], 'xbeginw'
	yield [0xc6, 0xf8], 'xabort'
	# movabs and moffs
	for pfx in ([], [0x66], [0x67], [0x48], [0x66, 0x48], [0x67, 0x48]):
		for op in list(range(0xb8, 0xc0, 3)) + [0xa0, 0xa1, 0xa2, 0xa3]:
			yield pfx + [op], ('mo', op, tuple(pfx))
	# near branches with 66 (objdump's AMD64 rule: 16-bit displacement)
	for pfx in ([0x66], [0x66, 0x48], [0xf2], [0x2e], [0x3e]):
		for op in (0xe8, 0xe9, 0xeb, 0x74, 0xe2, 0xe3):
			yield pfx + [op], ('br', op, tuple(pfx))
		yield pfx + [0x0f, 0x85], ('br', 0x85, tuple(pfx))
	for op in range(256):
		if op in (0x38, 0x3a):
			continue
		for mp in MANDATORY:
			for _ in range(2):
				rex = [rng.randrange(0x40, 0x50)] if rng.random() < 0.3 else []
				yield mp + rex + [0x0f, op] + rand_modrm_tail(), ('2', op, tuple(mp))
		for esc in (0x38, 0x3a):
			for mp in MANDATORY:
				rex = [rng.randrange(0x40, 0x50)] if rng.random() < 0.3 else []
				yield mp + rex + [0x0f, esc, op] + rand_modrm_tail(), (esc, op, tuple(mp))
	# mov cr/dr ignore mod
	for op in (0x20, 0x21, 0x22, 0x23):
		yield [0x0f, op, 0x05], ('cr', op, 5)
		yield [0x0f, op, 0x44], ('cr', op, 0x44)
	# extrq / insertq
	yield [0x66, 0x0f, 0x78, 0xc0], 'extrq'
	yield [0xf2, 0x0f, 0x78, 0xc1], 'insertq'
	# VEX, both forms, every map, every pp, W and L
	for op in range(256):
		for pp in range(4):
			for l in (0, 1):
				vvvv = 0xf if rng.random() < 0.7 else rng.randrange(16)
				b1 = (rng.randrange(2) << 7) | (vvvv << 3) | (l << 2) | pp
				yield rand_prefixes(False) + [0xc5, b1, op] + rand_modrm_tail(), ('c5', op)
				for mm in (1, 2, 3):
					for w in (0, 1):
						b1 = rng.randrange(8) << 5 | mm
						b2 = (w << 7) | (vvvv << 3) | (l << 2) | pp
						yield (rand_prefixes(False) + [0xc4, b1, b2, op] +
						       rand_modrm_tail(), ('c4', mm, op))
	# EVEX maps 1, 2, 3, 5, 6
	for op in range(256):
		for mm in (1, 2, 3, 5, 6):
			for pp in range(4):
				for w in (0, 1):
					ll = rng.randrange(3)
					p0 = (rng.randrange(16) << 4) | mm
					p1 = (w << 7) | (0xf << 3) | 0x04 | pp
					p2 = (ll << 5) | 0x08 | (rng.randrange(8) if rng.random() < 0.5 else 0)
					yield (rand_prefixes(False) + [0x62, p0, p1, p2, op] +
					       rand_modrm_tail(), ('62', mm, op))
	# XOP maps 8, 9, 10
	for op in range(256):
		for mm in (8, 9, 10):
			for w in (0, 1):
				for l in (0, 1):
					b1 = rng.randrange(8) << 5 | mm
					b2 = (w << 7) | (0xf << 3) | (l << 2)
					yield (rand_prefixes(False) + [0x8f, b1, b2, op] +
					       rand_modrm_tail(), ('8f', mm, op))


def main():
	cands = []
	for c, key in candidates():
		tail = [rng.randrange(256) for _ in range(16 - len(c))]
		cands.append((bytes(c + tail), any(p in (0x66, 0x67) for p in c), key))
	blob = b''.join(c + b'\x90' * (SLOT - 16) for c, _, _ in cands)
	with tempfile.NamedTemporaryFile(suffix='.bin', delete=False) as f:
		f.write(blob)
		path = f.name
	try:
		out = subprocess.run(['objdump', '-D', '-w', '-b', 'binary',
				      '-m', 'i386:x86-64', path],
				     check=True, capture_output=True, text=True).stdout
	finally:
		os.unlink(path)
	ver = subprocess.run(['objdump', '--version'], capture_output=True,
			     text=True).stdout.splitlines()[0]

	line_re = re.compile(r'^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$')
	seen = set()
	per_key = {}
	kept = []
	for line in out.splitlines():
		m = line_re.match(line)
		if not m:
			continue
		addr = int(m.group(1), 16)
		if addr % SLOT:
			continue
		code, text = bytes.fromhex(m.group(2)), m.group(3).strip()
		if '(bad)' in text or not text:
			continue
		words = text.split()
		if all(w in PREFIX_WORDS or w.startswith('rex') for w in words):
			continue
		if code in seen or deliberate_difference(code):
			continue
		_, wide, key = cands[addr // SLOT]
		if per_key.get(key, 0) >= PER_KEY:
			continue
		per_key[key] = per_key.get(key, 0) + 1
		seen.add(code)
		target = None
		c = re.search(r'# 0x([0-9a-f]+)', text)
		if c and '(%rip)' in text:
			target = int(c.group(1), 16)
		else:
			b = BRANCHES.match(text)
			if b and not text.startswith('jmp *') and not text.startswith('call *'):
				target = int(b.group(2), 16)
		if target is not None:
			target = ((target - addr + 2**63) % 2**64) - 2**63
		rel = '' if target is None or wide else ' %+x' % target
		kept.append('%s%s' % (code.hex(), rel))

	print('# x86dec-vectors.txt - x86-64 instructions as %s decodes them.' % ver)
	print('# Made by tests/data/gen-x86dec-vectors.py; checked by tests/unit/x86dec.c.')
	print('# Each line: the instruction bytes in hex (its length is the byte count)')
	print('# and optionally the RIP-relative or branch target minus its address.')
	for k in kept:
		print(k)
	print('%d vectors from %d candidates' % (len(kept), len(cands)), file=sys.stderr)


if __name__ == '__main__':
	main()
