/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The record of a `cbt backup' run into S3, kept in the device's lock file
 * ($CBT_RUN_DIR/MAJOR:MINOR.lock, kernel/device.h) from the snapshot's take
 * until it is dropped. A run killed mid-upload leaves it beside its
 * snapshot and closed epoch, both still in the kernel; the next run
 * continues from that snapshot only when the record names it and the same
 * options (docs/storage.md, "A killed cbt backup"). Text:
 *
 *   cbt-backup-run 1
 *   snapshot device UUID epoch N name SNAPNAME cow MAJ:MIN
 *   options to URL type T compression C:L full-mode M preserve P key K version V
 *   fs-frozen 0|1
 *
 * `cbt snapshot take' keeps another record there, for the snapshot it
 * attached, until `cbt snapshot drop' clears it: a snapshot the user
 * reads, which a backup must leave alone (docs/snapshot.md). Text:
 *
 *   cbt-snapshot-take 1
 *   snapshot device UUID epoch N name SNAPNAME cow MAJ:MIN
 *
 * The functions here are pure: job.c and cmd/snapshot.c read and write
 * the file.
 */
#ifndef CBT_BACKUP_RUNREC_H
#define CBT_BACKUP_RUNREC_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernel/proto.h"

/*
 * Room for a line: an S3 URL is at most 580 characters (store/s3.h), the
 * rest of the options line ~130. A line that does not fit is refused
 * (cbt_runrec_line()), never kept cut.
 */
#define CBT_RUNREC_LINE 1024

/*
 * The snapshot line of both records: the device's UUID, the epoch the
 * snapshot closed, its dm name, its COW device's major and minor. Whole,
 * it tells a snapshot from a later one of the same name.
 */
#define CBT_RUNREC_SNAP_FMT "device %s epoch %" PRIu64 " name %s cow %u:%u"

/*
 * printf into @buf: 0, or -ENAMETOOLONG with @buf emptied when the line
 * does not fit in @len, so that no cut line is recorded or compared.
 */
int cbt_runrec_line(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The record's text from its lines (each without its newline). */
int cbt_runrec_format(char *buf, size_t len, const char *snap_line, const char *opts_line,
		      bool fs_frozen);

/*
 * Whether record @rec (NUL-terminated) describes the run the lines of now
 * describe, each line compared whole: NULL if so (*@fs_frozen then gets the record's), else why
 * not, for the user. "" when @rec is empty or not a record: nothing to say.
 */
const char *cbt_runrec_match(const char *rec, const char *snap_line, const char *opts_line,
			     bool *fs_frozen);

/*
 * Whether the snapshot @info describes can give the interrupted run's
 * bytes again: active, its epoch the only closed one, a preserve set
 * exactly when @preserve, and nothing of it released (a released range
 * the killed run had read cannot be read again). NULL, or why not.
 */
const char *cbt_runrec_snap_usable(const struct cbt_dev_info *info, bool preserve);

/* The record of `cbt snapshot take' (above) from its snapshot line. */
int cbt_takerec_format(char *buf, size_t len, const char *snap_line);

/*
 * Whether @rec (NUL-terminated) is the record of `cbt snapshot take' for
 * the snapshot @snap_line describes. A record of another snapshot (one
 * dropped without `cbt snapshot drop', or another epoch) is not.
 */
bool cbt_takerec_match(const char *rec, const char *snap_line);

#endif /* CBT_BACKUP_RUNREC_H */
