/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Operations on cbt devices through the dm_cbt family: what subcommands
 * (status, bitmap, epoch, backup, clone) call. The requests' attributes are
 * built by proto.c, and the replies parsed there; this file sends them and
 * says which device failed. Each returns 0
 * or -errno with a detail that names the device and, for the usual
 * failures (no such device, no permission), says what to do.
 */
#ifndef CBT_DEVICE_H
#define CBT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/devsel.h"
#include "util/extents.h"
#include "kernel/genl.h"
#include "kernel/proto.h"

int cbt_get_device(struct cbt_nl *nl, const struct cbt_devsel *sel, struct cbt_dev_info *info);
/*
 * The same, asking for CBT_A_DEVICE_FLAGS @flags when the module knows the
 * attribute (an older one gets the plain request): with
 * CBT_DEVICE_F_NO_EPOCH_BITS the epochs' bits are not counted and stay 0.
 */
int cbt_get_device_flags(struct cbt_nl *nl, const struct cbt_devsel *sel, struct cbt_dev_info *info,
			 uint32_t flags);
/*
 * The one sequence that opens a DEVICE argument: parse @arg into @sel
 * (devsel.h), open a dm_cbt socket into *@nlp unless one is open already,
 * and, when @info is not NULL, read the device's state into it
 * (cbt_get_device()). On failure *@nlp may be open: the caller closes it
 * with cbt_nl_close() in any case, and frees @info as after
 * cbt_get_device(). In lookup.c.
 */
int cbt_dev_lookup(const char *arg, struct cbt_nl **nlp, struct cbt_devsel *sel,
		   struct cbt_dev_info *info);
/* Every cbt device, sorted by name; free with cbt_dev_infos_free(). */
int cbt_list_devices(struct cbt_nl *nl, struct cbt_dev_info **infos, size_t *nr);
void cbt_dev_infos_free(struct cbt_dev_info *infos, size_t nr);

/*
 * One `cbt backup' or `cbt clone' per device at a time: an exclusive
 * flock on $CBT_RUN_DIR (default /run/cbt)/MAJOR:MINOR.lock, held until
 * the returned fd is closed (or the process dies). So what a run finds
 * left on the device (a snapshot, closed epochs) is from a run that died,
 * and can be cleaned up, never from one still working. -EBUSY (with a
 * detail naming @what is running) when another run holds it.
 */
int cbt_device_lock(const struct cbt_dev_info *info);

int cbt_epoch_close(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t *closed);
int cbt_epoch_commit(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t epoch);
int cbt_epoch_abort(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t epoch);

/*
 * Receives changed extents in increasing order, in batches, as the dump
 * comes in; runs that cross a chunk or message boundary arrive whole.
 */
typedef int (*cbt_extents_cb)(const struct cbt_range *v, size_t nr, void *data);

/*
 * Read the changes of epochs @first..@last of the device @info describes
 * (from cbt_get_device() on @sel) and pass them to @cb. Afterwards the
 * device is asked again: if its tracking identity (UUID) or size changed
 * meanwhile, the result is -ESTALE, as what was read may be incomplete.
 */
int cbt_read_bitmap(struct cbt_nl *nl, const struct cbt_devsel *sel,
		    const struct cbt_dev_info *info, uint64_t first, uint64_t last,
		    cbt_extents_cb cb, void *data);

/*
 * The same read, counting instead of listing: @count gets the set blocks
 * and the extents cbt_read_bitmap() would pass (count->runs), and
 * count->end == info->nr_blocks when the last block is set. The kernel
 * counts when the module has CBT_CMD_COUNT_BITMAP (the family's list of
 * commands says so, cbt_nl_has_cmd()): nothing but the counts crosses
 * the socket. Before it, the bitmap is dumped and its words counted here.
 */
int cbt_count_bitmap(struct cbt_nl *nl, const struct cbt_devsel *sel,
		     const struct cbt_dev_info *info, uint64_t first, uint64_t last,
		     struct cbt_bitmap_count *count);

#endif /* CBT_DEVICE_H */
