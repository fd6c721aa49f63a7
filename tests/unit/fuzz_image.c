// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the image reader (image.c, image/read.c): any
 * input is fed through cbt_img_verify_fd() from a memfd. Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so checksum mismatches do not
 * stop the reader and the fuzzer reaches the field checks, the extent
 * checks, zstd and the trailer behind them. Whatever the input, reading
 * must not crash, leak or hang, and when it succeeds the trailer's map must
 * be sorted, coalesced and inside the device.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_image tests/unit/corpus/image
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct cbt_img_header h;
	struct cbt_img_trailer t;

	if (fd < 0)
		fd = memfd_create("fuzz", 0);
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET))
		abort();
	if (!cbt_img_verify_fd(fd, "fuzz", &h, &t)) {
		uint64_t end = 0, nb = cbt_img_nr_blocks(&h), sum = 0;

		for (size_t i = 0; i < t.map.nr; i++) {
			if (!t.map.v[i].len || (i && t.map.v[i].start <= end) ||
			    t.map.v[i].start + t.map.v[i].len > nb)
				abort();
			end = t.map.v[i].start + t.map.v[i].len;
			sum += t.map.v[i].len;
		}
		if (sum != t.blocks)
			abort();
		cbt_extents_free(&t.map);
	}
	cbt_err_clear();
	return 0;
}
