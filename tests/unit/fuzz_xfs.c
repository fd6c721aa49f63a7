// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the XFS free-space reader (fsmap/xfs.c), which
 * parses, as root, a filesystem that may belong to a tenant (a VM disk):
 * the input is the start of a device in a memfd, read with
 * cbt_xfs_free_space() as if the device were 1 TiB, so the superblock's
 * size passes and the first allocation group (whose headers and trees a
 * fresh filesystem keeps in its first 64 KiB: the seed tests/unit/run
 * makes) is parsed; reads past the input fail like a short device. It must
 * not crash, leak or hang; the free extents it reports must be increasing,
 * non-empty and inside the device.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_xfs DIR-OF-XFS-IMAGE-STARTS
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fsmap/fs.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t end, dev_bytes;
};

static int on_free(void *data, uint64_t offset, uint64_t len)
{
	struct seen *s = data;

	if (!len || offset < s->end || offset + len > s->dev_bytes || offset + len < offset)
		abort();
	s->end = offset + len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct seen s = { .dev_bytes = 1ULL << 40 };
	uint64_t fs_bytes;

	if (fd < 0)
		fd = memfd_create("fuzz", 0);
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	cbt_xfs_free_space(fd, s.dev_bytes, &fs_bytes, on_free, &s);
	cbt_err_clear();
	return 0;
}
