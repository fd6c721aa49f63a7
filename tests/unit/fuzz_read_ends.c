// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for cbt_img_read_ends() (image/ends.c): the header,
 * footer and trailer of an image file read with a few seeks, as info,
 * restore and the backup of a differential do for every image of a chain.
 * The input is a memfd opened by path. Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (checksums do not stop it).
 * When it succeeds, the trailer's map must be sorted, coalesced, inside
 * the device.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_read_ends tests/unit/corpus/image
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct cbt_img_header h;
	struct cbt_img_trailer t;

	if (fd < 0) {
		fd = memfd_create("fuzz", 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (!cbt_img_read_ends(path, &h, &t)) {
		uint64_t end = 0, nb = cbt_img_nr_blocks(&h);

		for (size_t i = 0; i < t.map.nr; i++) {
			if (!t.map.v[i].len || (i && t.map.v[i].start <= end) ||
			    t.map.v[i].start + t.map.v[i].len > nb)
				abort();
			end = t.map.v[i].start + t.map.v[i].len;
		}
		cbt_extents_free(&t.map);
	}
	cbt_err_clear();
	return 0;
}
