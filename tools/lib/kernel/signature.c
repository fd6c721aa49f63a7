// SPDX-License-Identifier: GPL-2.0
/* What a block device holds, by libblkid (kernel/signature.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <blkid/blkid.h>

#include "kernel/signature.h"
#include "util/util.h"

int cbt_probe_signature(const char *path, char *buf, size_t len)
{
	const char *type = NULL, *pttype = NULL, *label = NULL, *uuid = NULL;
	blkid_probe pr = blkid_new_probe_from_filename(path);
	int rc, found = 0;

	buf[0] = '\0';
	if (!pr)
		return cbt_err(-errno ? -errno : -EIO, "%s: cannot probe for signatures", path);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL |
					  BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	rc = blkid_do_fullprobe(pr);
	if (rc < 0) {
		blkid_free_probe(pr);
		/* Several signatures that contradict each other: still something. */
		snprintf(buf, len, "conflicting signatures");
		return 1;
	}
	if (rc == 0) {
		blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
		blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
		blkid_probe_lookup_value(pr, "LABEL", &label, NULL);
		blkid_probe_lookup_value(pr, "UUID", &uuid, NULL);
		if (pttype) {
			snprintf(buf, len, "a %s partition table", pttype);
			found = 1;
		}
		if (type) {
			size_t n = strlen(buf);

			snprintf(buf + n, len - n, "%s%s %s%s", found ? " and " : "",
				 strchr("aeiou", type[0]) ? "an" : "a", type,
				 strcmp(type, "swap") ? " filesystem" : " area");
			n = strlen(buf);
			if (uuid)
				snprintf(buf + n, len - n, " (UUID %s%s%s)", uuid, label ? ", label " : "",
					 label ? label : "");
			found = 1;
		}
	}
	blkid_free_probe(pr);
	return found;
}

void cbt_wipe_signatures(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	blkid_probe pr = fd < 0 ? NULL : blkid_new_probe();

	if (pr && !blkid_probe_set_device(pr, fd, 0, 0)) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
		/* As wipefs -a does: each signature found is erased, then probe again. */
		for (int i = 0; i < 64 && !blkid_do_probe(pr); i++)
			if (blkid_do_wipe(pr, 0))
				break;
		fsync(fd);
	}
	if (pr)
		blkid_free_probe(pr);
	if (fd >= 0)
		close(fd);
}

int cbt_check_cow_signature(const char *cow, bool force)
{
	char found[512];
	int ret = cbt_probe_signature(cow, found, sizeof(found));

	if (ret < 0)
		return ret;
	if (ret > 0 && !force)
		return cbt_err(-EEXIST, "COW device `%s' holds %s; the snapshot would overwrite it"
			       " (--force writes over it; check it is the disk you meant, e.g. after"
			       " disk names changed at a reboot)", cow, found);
	return 0;
}
