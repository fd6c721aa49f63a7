// SPDX-License-Identifier: GPL-2.0
/* The stamped-block format of the guest helpers: see stampfmt.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stampfmt.h"

uint64_t stamp_rand(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void stamp_fill(unsigned char *buf, uint64_t bs, uint64_t gen, uint64_t offset)
{
	struct stamp_hdr *h = (struct stamp_hdr *)buf;
	uint64_t x = offset * 31 + gen, v;
	size_t i;

	for (i = sizeof(*h); i + 8 <= bs; i += 8) {
		v = stamp_rand(&x);
		memcpy(buf + i, &v, 8);
	}
	memcpy(h->magic, STAMP_MAGIC, 8);
	h->offset = offset;
	h->gen = gen;
	h->bs = (uint32_t)bs;
	h->pad = 0;
	h->sum = 0;
	h->sum = fnv1a(buf, bs);
}

enum stamp_verdict stamp_classify(unsigned char *buf, uint64_t bs, uint64_t want)
{
	struct stamp_hdr *h = (struct stamp_hdr *)buf;
	uint64_t sum = h->sum;
	size_t i;

	if (memcmp(h->magic, STAMP_MAGIC, 8)) {
		for (i = 0; i < bs && !buf[i]; i++)
			;
		return i == bs ? STAMP_ZERO : STAMP_NOSTAMP;
	}
	h->sum = 0;
	if (fnv1a(buf, bs) != sum)
		return STAMP_CHECKSUM;
	if (h->bs != bs)
		return STAMP_BS;
	if (h->offset != want)
		return STAMP_OFFSET;
	return STAMP_OK;
}

int stamp_num(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'G': n <<= 10; /* fall through */
	case 'M': n <<= 10; /* fall through */
	case 'K': n <<= 10; end++; break;
	}
	if (*end)
		return -1;
	*v = n;
	return 0;
}
