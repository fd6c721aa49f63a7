/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device-independent half of `cbt backup': given a source to read
 * (the snapshot device, or any file in tests) and the blocks that changed
 * in the closed epoch, choose the image's parent and block set from the
 * chain directory, read the blocks (large aligned reads, O_DIRECT when the
 * source allows it), and write the image to a partial file that is renamed
 * and entered in the index only once it is complete and on disk; or write
 * it to a file descriptor (-o FILE|-).
 */
#ifndef CBT_BACKUP_CORE_H
#define CBT_BACKUP_CORE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/extents.h"
#include "image/image.h"
#include "util/progress.h"

enum cbt_full_mode {
	CBT_FULL_NONZERO,	/* skip all-zero blocks */
	CBT_FULL_FS,		/* blocks the filesystem uses (+ skip zeros) */
	CBT_FULL_ALL,		/* every block */
};

struct cbt_s3chain;

struct cbt_backup_req {
	uint32_t type;			/* enum cbt_img_type */
	uint8_t dev_uuid[16];		/* tracking identity at the snapshot */
	uint64_t dev_bytes;
	uint32_t block_size;
	uint64_t epoch;			/* the epoch the snapshot closed */
	uint64_t last_committed;	/* the device's, read after the snapshot */
	const struct cbt_extents *changed;	/* its blocks (incremental, differential) */
	enum cbt_full_mode full_mode;
	const struct cbt_extents *fs_used;	/* for CBT_FULL_FS */
	uint32_t compression, level;
	int threads;
	uint32_t format_version;	/* 0: the current one (1: tests' version 1 fixtures) */
	const char *dir;		/* chain directory, or NULL */
	int out_fd;			/* without dir: where the image goes */
	const char *out_name;
	const struct cbt_s3chain *remote;	/* dir is its view: upload there */
	uint64_t split;			/* with dir: segments of at most this (store/segment.h) */
	/*
	 * When the chain's history is lost (what check_chain refuses with
	 * -ESTALE), write a full image into the chain instead of failing;
	 * res->h.type says which was written.
	 */
	bool auto_full;
	/*
	 * Called with each byte range of the source once it is read (NULL:
	 * never): a snapshot taken with a preserve set then forgets it.
	 */
	int (*release)(void *ctx, uint64_t off, uint64_t len);
	void *release_ctx;
	volatile sig_atomic_t *stop;	/* set by a signal: give up */
	struct cbt_progress *progress;
};

struct cbt_backup_result {
	struct cbt_img_header h;
	char file[4096];		/* in the chain directory */
	uint64_t blocks, logical_bytes, stored_bytes;
	uint64_t scanned_bytes;		/* read from the source */
};

/*
 * Checks the chain before anything is read: for an incremental or a
 * differential, that it has a full image and that its last image was taken
 * under @req->dev_uuid (else -ESTALE, "a full image is needed"). Locks
 * the directory for the whole run. Partial files of earlier runs are
 * removed.
 */
int cbt_backup_run(const struct cbt_backup_req *req, int src_fd, struct cbt_backup_result *res);

/*
 * The chain checks, for `cbt backup' to call before it takes a snapshot
 * (so a refused backup changes nothing) and again once it is taken:
 * @epoch is the one the snapshot closes (before it: the open one), @last_committed
 * the device's CBT_A_LAST_COMMITTED.
 */
int cbt_backup_precheck(const char *dir, uint32_t type, const uint8_t dev_uuid[16],
			uint64_t dev_bytes, uint32_t block_size, uint64_t epoch,
			uint64_t last_committed);

/* Whether chain @dir holds an image of device identity @dev_uuid up to epoch @epoch or later. */
bool cbt_backup_chain_covers(const char *dir, const uint8_t dev_uuid[16], uint64_t epoch);

#endif /* CBT_BACKUP_CORE_H */
