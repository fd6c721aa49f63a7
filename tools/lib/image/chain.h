/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Chain directories (`cbt backup --to DIR'): image files named by the tool
 * (NNNNNN-full.cbti, NNNNNN-incr.cbti, NNNNNN-diff.cbti), a text index
 * DIR/chain.idx listing them in the order they were taken (docs/format.md),
 * and DIR/.lock, flock()ed by whoever changes the directory. The block set
 * of each image is its trailer's block map.
 */
#ifndef CBT_CHAIN_H
#define CBT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "image/image.h"

#define CBT_CHAIN_INDEX "chain.idx"
#define CBT_CHAIN_FILE_MAX 64

struct cbt_chain_entry {
	uint64_t seq;
	uint32_t type;
	uint8_t uuid[16], parent[16], base[16], dev_uuid[16];
	uint64_t epoch_first, epoch_last;
	char file[CBT_CHAIN_FILE_MAX];
};

/*
 * Where a chain's images live when its directory is only a local view of
 * them (a chain in S3, image/s3chain.h). The chain code calls these so
 * that every change reaches the store in the order that keeps the stored
 * chain whole: a new image stored first, then the index (the commit),
 * then the images it no longer names deleted.
 */
struct cbt_chain_remote {
	int (*put_image)(void *arg, int dfd, const char *file);	/* stored; @file becomes a stub */
	int (*put_index)(void *arg);	/* the directory's index, just rewritten */
	int (*remove)(void *arg, int dfd, const char *file);	/* before @file is unlinked */
	void *arg;
};

struct cbt_chain {
	char *dir;
	struct cbt_chain_entry *v;
	size_t nr;
	int lock_fd;
	int dfd;	/* the directory: every file in it is opened relative to this */
	const struct cbt_chain_remote *remote;	/* NULL: the directory is the store */
};

/*
 * Open chain directory @dir: with @create, make it when missing; with
 * @lock, take DIR/.lock (-EBUSY when another cbt holds it). A directory
 * without an index is an empty chain. With @create or @lock (a writer),
 * DIR must pass cbt_dir_open_private(): not a symbolic link, owned by the
 * effective uid, writable by it alone. On an error too, @c holds what was
 * read before it (cbt job reads a damaged index's lines): cbt_chain_close() it.
 */
int cbt_chain_open(struct cbt_chain *c, const char *dir, bool create, bool lock);
void cbt_chain_close(struct cbt_chain *c);
/*
 * Read the index from @f (named @path in messages) into @c, whose dir and
 * dfd are set: -EBADMSG naming the bad line. Used by cbt_chain_open() and
 * the fuzzer (tests/unit/fuzz_chain.c).
 */
int cbt_chain_parse(struct cbt_chain *c, FILE *f, const char *path, bool create);
/* DIR/file of entry @i (for messages: open files with the two below). */
int cbt_chain_path(const struct cbt_chain *c, size_t i, char *buf, size_t len);
/* Entry @i's image, opened for reading: a regular file, not a symbolic link. */
int cbt_chain_open_image(const struct cbt_chain *c, size_t i);
/* cbt_img_read_ends() of entry @i. */
int cbt_chain_read_ends(const struct cbt_chain *c, size_t i, struct cbt_img_header *h,
			struct cbt_img_trailer *t);
/* The entry whose image UUID is @uuid, or -1. */
long cbt_chain_find(const struct cbt_chain *c, const uint8_t uuid[16]);
/*
 * The full image of the chain that starts from base @base, or -1: the
 * entry whose own UUID is @base, or a full image merged from it (which
 * took the UUID of the newest image it absorbed and kept @base).
 */
long cbt_chain_find_full(const struct cbt_chain *c, const uint8_t base[16]);
/*
 * An image chosen by the user: a sequence number, a UUID or a file name;
 * NULL is the last image. -ENOENT with a detail listing what exists.
 */
int cbt_chain_pick(const struct cbt_chain *c, const char *id, size_t *i);
/*
 * The images needed to restore entry @i, newest first (ending at a full),
 * following parent links: -ENOENT/-EBADMSG naming a missing or mismatched
 * link. @path gets at most c->nr indexes.
 */
int cbt_chain_resolve(const struct cbt_chain *c, size_t i, size_t *path, size_t *n);
/*
 * Check the links between two images: @child's parent is @parent, same
 * device identity, size and block size, epochs continuing. 0 or -EBADMSG.
 */
int cbt_img_check_link(const struct cbt_img_header *child, const struct cbt_img_header *parent,
		       const char *child_name, const char *parent_name);
/* A file name for a new image of @type: the next sequence number. */
void cbt_chain_next_name(const struct cbt_chain *c, uint32_t type, struct cbt_chain_entry *e);
/* Append @e to the index (rewritten to a temporary file and renamed). */
int cbt_chain_add(struct cbt_chain *c, const struct cbt_chain_entry *e);

/*
 * Replace the index by @v (@nr entries, in order), the same way; @c then
 * holds a copy of them.
 */
int cbt_chain_rewrite(struct cbt_chain *c, const struct cbt_chain_entry *v, size_t nr);
/* Remove DIR/.*.partial left by a run that died (the caller holds the lock). */
void cbt_chain_remove_partials(const struct cbt_chain *c);
/*
 * Remove image files (NNNNNN-TYPE.cbti) the index does not name, numbered
 * at or below its last entry: left by a merge that died after renaming
 * its image or rewriting the index (a backup that died before indexing its
 * image left a higher number, which stays). Returns how many went.
 */
int cbt_chain_remove_orphans(const struct cbt_chain *c);

/* The union of two sorted extent lists, into @out (initialised here). */
int cbt_extents_union(const struct cbt_extents *a, const struct cbt_extents *b,
		      struct cbt_extents *out);

#endif /* CBT_CHAIN_H */
