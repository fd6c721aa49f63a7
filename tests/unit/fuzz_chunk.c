// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the GET_BITMAP dump decoder: cbt_bitmap_parse_msg()
 * and under it cbt_chunk_parse() and cbt_chunk_decode().
 *
 * Input: an 8-byte little-endian nr_blocks (what GET_DEVICE said), a
 * 2-byte little-endian split point, then an attribute stream that is cut
 * at the split point into two dump messages (block size 4096, epoch 5).
 * Whatever the input, decoding must not crash, and when it succeeds the
 * extent list must be sorted, coalesced and inside the device.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_chunk tests/unit/corpus/chunk
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <linux/genetlink.h>

#include "msgbuild.h"
#include "kernel/proto.h"
#include "util/util.h"

static char msg[2][65536 + 64] __attribute__((aligned(8)));

static struct nlmsghdr *wrap(char *buf, const uint8_t *attrs, size_t len)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_BITMAP, 1, NLM_F_MULTI);

	memcpy(mnl_nlmsg_get_payload_tail(nlh), attrs, len);
	nlh->nlmsg_len += (uint32_t)len;
	return nlh;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cbt_bitmap_reader r;
	uint64_t nr_blocks, sum = 0, prev_end = 0;
	uint16_t split;
	struct nlmsghdr *a, *b;
	int ret;

	if (size < 10 || size - 10 > 65536)
		return 0;
	memcpy(&nr_blocks, data, 8);
	memcpy(&split, data + 8, 2);
	nr_blocks = le64toh(nr_blocks);
	split = le16toh(split);
	data += 10;
	size -= 10;
	if (split > size)
		split = (uint16_t)size;

	a = wrap(msg[0], data, split);
	b = wrap(msg[1], data + split, size - split);
	cbt_bitmap_reader_init(&r, 5, 4096, nr_blocks);
	ret = cbt_bitmap_parse_msg(&r, a);
	if (!ret)
		ret = cbt_bitmap_parse_msg(&r, b);
	if (!ret) {
		for (size_t i = 0; i < r.ext.nr; i++) {
			const struct cbt_range *e = &r.ext.v[i];

			if (!e->len || e->start + e->len < e->start || e->start + e->len > nr_blocks ||
			    (i && e->start <= prev_end))	/* touching extents must have merged */
				abort();
			prev_end = e->start + e->len;
			sum += e->len;
		}
		if (sum != r.ext.total)
			abort();
	} else if (!cbt_err_detail()) {
		abort();	/* every refusal says why */
	}
	cbt_err_clear();
	cbt_bitmap_reader_free(&r);
	return 0;
}
