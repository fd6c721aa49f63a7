// SPDX-License-Identifier: GPL-2.0
/*
 * Opening the metadata device: read both superblocks, then load the
 * newest valid ledger's epochs and replay its coarse marks, or format a
 * new identity when the metadata is new, damaged, another device's, of
 * version 1 or left by a boot that did not track; and cbt_md_restart(), a
 * new identity on an open device. cbt_md_open() (the constructor) only
 * reads and refuses; the writes of the load or the format wait for
 * cbt_md_first_resume(), so a table dm refuses after our constructor
 * leaves the device as it was. The page I/O is dm-cbt-metadata.c's, the
 * region maps dm-cbt-regions.c's.
 *
 * Every function here runs with the tracker's lock held and may sleep.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>
#include <linux/uuid.h>

#include "dm-cbt.h"

/* Read every leaf of @slot into @e's bitmap. */
static int load_slot(struct cbt_tracker *t, struct cbt_epoch *e)
{
	u64 page_nos[CBT_COMMIT_BATCH];
	u32 leaf = 0, n, i;
	int r;

	while (leaf < e->bm.nr_leaves) {
		n = min_t(u32, CBT_COMMIT_BATCH, e->bm.nr_leaves - leaf);
		for (i = 0; i < n; i++)
			page_nos[i] = cbt_md_slot_page(t, e->slot, leaf + i);
		r = cbt_md_io(t, t->batch, page_nos, n, REQ_OP_READ);
		if (r)
			return r;
		for (i = 0; i < n; i++) {
			cbt_bitmap_or_leaf(&e->bm, leaf + i,
					   page_address(t->batch[i]), GFP_KERNEL);
			/* No page for it: FULL in memory, so all ones on disk too (L3). */
			if (READ_ONCE(e->bm.leaves[leaf + i]) == CBT_LEAF_FULL)
				set_bit(leaf + i, e->dirty_leaves);
		}
		leaf += n;
	}
	return 0;
}

/*
 * A new identity in memory: the ledger and an empty open epoch. Nothing
 * is written: format_write() puts it on the device.
 */
static int format_prepare(struct cbt_tracker *t, u64 md_pages, enum cbt_identity_reason why,
			  char **error)
{
	struct cbt_epoch *e;
	u8 uuid[16];

	generate_random_uuid(uuid);
	cbt_ledger_init(&t->ledger, uuid, t->block_sectors << SECTOR_SHIFT, t->nr_blocks, 0);
	t->ledger.origin_sectors = t->dev_sectors;
	/* cbt_md_open() checked that version 2 fits: this cannot fail. */
	cbt_md_layout(&t->ledger, md_pages);
	t->ledger.seq = 1;
	e = cbt_epoch_alloc(t, t->ledger.open_epoch, t->ledger.open_slot);
	if (!e) {
		*error = "Cannot allocate bitmap";
		return -ENOMEM;
	}
	t->slots[e->slot] = e;
	t->reason = why;
	/* Weighed already: this identity begins here, there is no stretch to check. */
	t->checked = true;
	return 0;
}

/* Zero the bitmaps and region maps, then both superblocks; 0 or -errno. */
static int format_write(struct cbt_tracker *t, char **error)
{
	u64 zero_page = 0, one_page = 1;
	int r;

	r = blkdev_issue_zeroout(t->meta_bdev, DM_CBT_MD_SB_COPIES * CBT_MD_PAGE_SECTORS,
				 (cbt_region_map_page(&t->ledger, 2) - DM_CBT_MD_SB_COPIES) *
				 CBT_MD_PAGE_SECTORS, GFP_KERNEL, 0);
	if (r) {
		*error = "Cannot zero the metadata device";
		return r;
	}
	/* Both copies, so no older superblock can outrank the new identity. */
	cbt_sb_encode(&t->ledger, page_address(t->batch[0]));
	r = cbt_md_io(t, &t->batch[0], &zero_page, 1, REQ_OP_WRITE | REQ_SYNC);
	if (!r)
		r = cbt_md_io(t, &t->batch[0], &one_page, 1,
			      REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC);
	if (r) {
		*error = "Cannot write the metadata superblock";
		return r;
	}
	cbt_md_regions_reset(t);
	return 0;
}

/* cbt_md_open()'s format: prepared now, written at the first preresume. */
static int format(struct cbt_tracker *t, u64 md_pages, enum cbt_identity_reason why,
		  char **error)
{
	int r = format_prepare(t, md_pages, why, error);

	if (!r)
		t->md_unwritten = true;
	return r;
}

int cbt_md_restart(struct cbt_tracker *t, enum cbt_identity_reason why)
{
	u64 md_pages = bdev_nr_sectors(t->meta_bdev) / CBT_MD_PAGE_SECTORS;
	struct cbt_epoch *old[DM_CBT_MD_SLOTS];
	struct cbt_ledger old_ledger = t->ledger;
	char *error = NULL;
	u32 i;
	int r;

	lockdep_assert_held(&t->lock);
	memcpy(old, t->slots, sizeof(old));
	memset(t->slots, 0, sizeof(t->slots));
	r = format_prepare(t, md_pages, why, &error);
	if (!r)
		r = format_write(t, &error);
	if (r) {
		/* The old bits are a superset: keep them, in memory, as a new identity. */
		for (i = 0; i < DM_CBT_MD_SLOTS; i++)
			cbt_epoch_free(t->slots[i]);
		memcpy(t->slots, old, sizeof(old));
		t->ledger = old_ledger;
		DMERR("%u:%u: %s (%d)", MAJOR(t->devt), MINOR(t->devt), error, r);
		cbt_md_failed(t, r, "starting a new identity");
		return r;
	}
	rcu_assign_pointer(t->open, t->slots[t->ledger.open_slot]);
	/* No map() runs while suspended; this only orders the frees after it. */
	synchronize_rcu();
	for (i = 0; i < DM_CBT_MD_SLOTS; i++)
		cbt_epoch_free(old[i]);
	return 0;
}

/*
 * Load a valid ledger's epochs into memory, with the origin's growth and
 * an unclean stop's coarse marks set as dirty leaves; reads only (the
 * writes are load_write()'s). 0, or -errno with *error set.
 */
static int load(struct cbt_tracker *t, const struct cbt_ledger *l, char **error)
{
	u64 old_blocks = l->nr_blocks;
	struct cbt_epoch *e;
	u32 slot, i;
	int r;

	t->ledger = *l;
	for (i = 0; i <= t->ledger.nr_closed; i++) {
		u64 number = i < t->ledger.nr_closed ? t->ledger.closed[i].epoch :
						       t->ledger.open_epoch;

		slot = i < t->ledger.nr_closed ? t->ledger.closed[i].slot :
						 t->ledger.open_slot;
		e = cbt_epoch_alloc(t, number, slot);
		if (!e) {
			*error = "Cannot allocate bitmap";
			return -ENOMEM;
		}
		t->slots[slot] = e;
		r = load_slot(t, e);
		if (r) {
			*error = "Cannot read the metadata bitmaps";
			return r;
		}
	}
	if (t->nr_blocks > old_blocks) {
		/* The origin grew while we were away: the new area changed. */
		e = t->slots[t->ledger.open_slot];
		cbt_bitmap_set_range(&e->bm, old_blocks - 1, t->nr_blocks - old_blocks + 1,
				     GFP_KERNEL);
		cbt_md_mark_dirty(e, old_blocks - 1, t->nr_blocks - old_blocks + 1);
		/* On disk with the superblock, after the leaves (load_write()). */
		t->ledger.nr_blocks = t->nr_blocks;
		t->ledger.origin_sectors = t->dev_sectors;
	}
	if (t->ledger.region_pages) {
		r = cbt_md_regions_replay(t, t->slots[t->ledger.open_slot], &t->md_replayed);
		if (r) {
			*error = "Cannot read the region maps";
			return r;
		}
	}
	t->reason = CBT_IDENTITY_CONTINUED;
	t->md_unwritten = true;
	return 0;
}

/*
 * A load's writes, in their crash-safe order: freed slots zeroed; the
 * dirty leaves (growth, replayed regions, leaves load_slot() could only
 * keep as FULL); then the region maps zeroed (their marks are in the
 * leaves now); the superblock last.
 */
static int load_write(struct cbt_tracker *t, char **error)
{
	u32 slot;
	int r;

	for (slot = 0; slot < DM_CBT_MD_SLOTS; slot++) {
		if (!(t->ledger.dirty_slots & (1U << slot)))
			continue;
		r = blkdev_issue_zeroout(t->meta_bdev,
					 cbt_md_slot_page(t, slot, 0) * CBT_MD_PAGE_SECTORS,
					 t->ledger.slot_pages * CBT_MD_PAGE_SECTORS,
					 GFP_KERNEL, 0);
		if (r) {
			*error = "Cannot zero a freed metadata slot";
			return r;
		}
		cbt_ledger_slot_clean(&t->ledger, slot);
	}
	r = cbt_md_commit_dirty(t);
	if (r) {
		*error = "Cannot write the metadata bitmaps";
		return r;
	}
	/* Both generations zero again; the superblock's PREFLUSH settles it. */
	if (t->md_replayed) {
		DMINFO("%u:%u: unclean stop: the blocks of its coarse marks count as changed",
		       MAJOR(t->devt), MINOR(t->devt));
		r = blkdev_issue_zeroout(t->meta_bdev,
					 cbt_region_map_page(&t->ledger, 0) * CBT_MD_PAGE_SECTORS,
					 2 * t->ledger.region_pages * CBT_MD_PAGE_SECTORS,
					 GFP_KERNEL, 0);
		if (r) {
			*error = "Cannot zero the region maps";
			return r;
		}
		t->md_replayed = false;
	}
	cbt_md_regions_reset(t);
	t->ledger.seq++;
	r = cbt_md_write_sb(t);
	if (r) {
		/*
		 * The retry writes the same copy again: the other one holds
		 * the newest valid superblock, which a torn retry must not lose.
		 */
		t->ledger.seq--;
		*error = "Cannot write the metadata superblock";
	}
	return r;
}

int cbt_md_first_resume(struct cbt_tracker *t)
{
	char *error = NULL;
	u32 i;
	int r;

	lockdep_assert_held(&t->lock);
	if (!t->md_unwritten)
		return 0;
	if (t->reason == CBT_IDENTITY_CONTINUED)
		r = load_write(t, &error);
	else
		r = format_write(t, &error);
	if (r) {
		DMERR("%u:%u: %s (%d); the device stays suspended", MAJOR(t->devt),
		      MINOR(t->devt), error, r);
		/*
		 * A commit that failed part way cleared dirty bits it did not
		 * write: a retry writes every leaf (memory holds the disk's
		 * bits and the replayed ones) before the region maps go.
		 */
		for (i = 0; i < DM_CBT_MD_SLOTS; i++)
			if (t->slots[i])
				bitmap_fill(t->slots[i]->dirty_leaves, t->slots[i]->bm.nr_leaves);
		return r;
	}
	t->md_unwritten = false;
	return 0;
}

/* cbt_md_open() with room for both superblocks' ledgers in @l. */
static int md_open(struct cbt_tracker *t, struct cbt_ledger *l, char **error)
{
	u64 md_pages = bdev_nr_sectors(t->meta_bdev) / CBT_MD_PAGE_SECTORS;
	u64 need = DM_CBT_MD_SB_COPIES + (u64)DM_CBT_MD_SLOTS *
		   DIV_ROUND_UP_ULL(t->nr_blocks, CBT_BITS_PER_LEAF);
	u64 page_nos[DM_CBT_MD_SB_COPIES] = { 0, 1 };
	int r, d[DM_CBT_MD_SB_COPIES], best = -1, i;

	lockdep_assert_held(&t->lock);
	if (md_pages < need) {
		*error = "Metadata device too small (see docs/target.md for its size)";
		return -ENOSPC;
	}
	r = cbt_md_io(t, t->batch, page_nos, DM_CBT_MD_SB_COPIES, REQ_OP_READ);
	if (r) {
		*error = "Cannot read the metadata superblock";
		return r;
	}
	for (i = 0; i < DM_CBT_MD_SB_COPIES; i++) {
		d[i] = cbt_sb_decode(page_address(t->batch[i]), &l[i]);
		if (d[i] == -EPROTO) {
			/* A newer module wrote it: reformatting would drop its history. */
			*error = "Metadata of a newer dm-cbt format; load the newer module";
			return -EPROTO;
		}
		if (!d[i] && (best < 0 || l[i].seq > l[best].seq))
			best = i;
	}
	if (d[0] == -ESTALE || d[1] == -ESTALE)
		return format(t, md_pages, CBT_IDENTITY_UNTRACKED_BOOT, error);
	if (best < 0) {
		if (d[0] == -ENODATA && d[1] == -ENODATA)
			return format(t, md_pages, CBT_IDENTITY_NEW_METADATA, error);
		if (d[0] == -EILSEQ || d[1] == -EILSEQ) {
			/* Never overwrite what the user may need: it isn't ours. */
			*error = "Metadata device holds foreign data; zero its first 8 KiB";
			return -EINVAL;
		}
		DMWARN("%u:%u: metadata is damaged (%d, %d): new identity",
		       MAJOR(t->devt), MINOR(t->devt), d[0], d[1]);
		return format(t, md_pages, CBT_IDENTITY_DAMAGED, error);
	}
	if (l[best].block_size != t->block_sectors << SECTOR_SHIFT ||
	    l[best].nr_blocks > t->nr_blocks ||
	    (l[best].version >= 2 && l[best].origin_sectors > t->dev_sectors) ||
	    cbt_region_map_page(&l[best], 2) > md_pages) {
		DMWARN("%u:%u: metadata is for another device or block size: new identity",
		       MAJOR(t->devt), MINOR(t->devt));
		return format(t, md_pages, CBT_IDENTITY_OTHER_DEVICE, error);
	}
	/* Version 1 kept no evidence of what happened while detached. */
	if (l[best].version < 2)
		return format(t, md_pages, CBT_IDENTITY_UNVERIFIED, error);
	if (t->nr_blocks > l[best].slot_pages * CBT_BITS_PER_LEAF) {
		*error = "Metadata device too small for the grown origin";
		return -ENOSPC;
	}
	return load(t, &l[best], error);
}

int cbt_md_open(struct cbt_tracker *t, char **error)
{
	/* Two ledgers are too large for the stack (CONFIG_FRAME_WARN). */
	struct cbt_ledger *l = kmalloc_array(DM_CBT_MD_SB_COPIES, sizeof(*l), GFP_KERNEL);
	int r;

	lockdep_assert_held(&t->lock);
	if (!l) {
		*error = "Cannot allocate the superblocks' ledgers";
		return -ENOMEM;
	}
	r = md_open(t, l, error);
	kfree(l);
	return r;
}
