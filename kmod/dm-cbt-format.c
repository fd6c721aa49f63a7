// SPDX-License-Identifier: GPL-2.0
/*
 * The epoch ledger and its on-disk superblock: see dm-cbt-format.h.
 */
#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/math64.h>
#include <linux/string.h>
#include <asm/byteorder.h>

#include "dm-cbt-compat-crc32c.h"
#include "dm-cbt-format.h"

#define ALL_SLOTS_MASK ((1U << DM_CBT_MD_SLOTS) - 1)

static u32 used_slots(const struct cbt_ledger *l)
{
	u32 used = 1U << l->open_slot, i;

	for (i = 0; i < l->nr_closed; i++)
		used |= 1U << l->closed[i].slot;
	return used;
}

void cbt_ledger_init(struct cbt_ledger *l, const u8 uuid[16], u32 block_size,
		     u64 nr_blocks, u64 slot_pages)
{
	memset(l, 0, sizeof(*l));
	memcpy(l->uuid, uuid, sizeof(l->uuid));
	l->block_size = block_size;
	l->nr_blocks = nr_blocks;
	l->slot_pages = slot_pages;
	l->open_epoch = 1;
	l->open_slot = 0;
	l->version = 2;
	l->origin_sectors = nr_blocks * (block_size >> 9);
}

u32 cbt_region_shift(u32 block_size)
{
	return block_size >= CBT_REGION_BYTES ? 0 : ilog2(CBT_REGION_BYTES / block_size);
}

/* Pages of slots and region maps with @sp pages per slot. */
static u64 layout_pages(u64 sp, u32 shift)
{
	return DM_CBT_MD_SLOTS * sp + 2 * DIV_ROUND_UP_ULL(sp, 1ULL << shift);
}

int cbt_md_layout(struct cbt_ledger *l, u64 md_pages)
{
	u64 need = DIV_ROUND_UP_ULL(l->nr_blocks, DM_CBT_MD_PAGE_SIZE * 8);
	u32 shift = cbt_region_shift(l->block_size);
	u64 avail, bpr = 1ULL << shift, sp;

	if (md_pages < DM_CBT_MD_SB_COPIES)
		return -ENOSPC;
	avail = md_pages - DM_CBT_MD_SB_COPIES;
	/* A first guess from the ratio, then the rounding settles it. */
	sp = div64_u64(avail * bpr, DM_CBT_MD_SLOTS * bpr + 2);
	while (sp && layout_pages(sp, shift) > avail)
		sp--;
	while (layout_pages(sp + 1, shift) <= avail)
		sp++;
	if (sp && sp >= need) {
		l->version = 3;
		l->slot_pages = sp;
		l->region_shift = shift;
		l->region_pages = DIV_ROUND_UP_ULL(sp, bpr);
		return 0;
	}
	l->version = 2;
	l->slot_pages = avail / DM_CBT_MD_SLOTS;
	l->region_shift = 0;
	l->region_pages = 0;
	return l->slot_pages && l->slot_pages >= need ? 0 : -ENOSPC;
}

u64 cbt_region_map_page(const struct cbt_ledger *l, u32 gen)
{
	return DM_CBT_MD_SB_COPIES + DM_CBT_MD_SLOTS * l->slot_pages + gen * l->region_pages;
}

void cbt_fp_regions(u64 sectors, struct cbt_fp_regions *r)
{
	u64 end = round_down(sectors, 4096 >> 9);

	memset(r, 0, sizeof(*r));
	if (end <= 2 * CBT_FP_REGION_SECTORS) {
		r->len[0] = end;
		return;
	}
	r->len[0] = CBT_FP_REGION_SECTORS;
	r->start[1] = end - CBT_FP_REGION_SECTORS;
	r->len[1] = CBT_FP_REGION_SECTORS;
}

int cbt_ledger_close(struct cbt_ledger *l, u32 *closed_slot)
{
	u32 busy = used_slots(l), slot;

	if (l->nr_closed >= DM_CBT_MAX_CLOSED)
		return -EBUSY;
	for (slot = 0; slot < DM_CBT_MD_SLOTS; slot++)
		if (!((busy | l->dirty_slots) & (1U << slot)))
			break;
	if (slot == DM_CBT_MD_SLOTS)
		return -EAGAIN;
	l->closed[l->nr_closed].epoch = l->open_epoch;
	l->closed[l->nr_closed].slot = l->open_slot;
	l->nr_closed++;
	*closed_slot = l->open_slot;
	l->open_epoch++;
	l->open_slot = slot;
	return 0;
}

static int find_closed(const struct cbt_ledger *l, u64 epoch)
{
	u32 i;

	for (i = 0; i < l->nr_closed; i++)
		if (l->closed[i].epoch == epoch)
			return i;
	return -ENOENT;
}

static void drop_closed(struct cbt_ledger *l, u32 i, u32 *freed_slot)
{
	*freed_slot = l->closed[i].slot;
	l->dirty_slots |= 1U << l->closed[i].slot;
	memmove(&l->closed[i], &l->closed[i + 1],
		(l->nr_closed - i - 1) * sizeof(l->closed[0]));
	l->nr_closed--;
	memset(&l->closed[l->nr_closed], 0, sizeof(l->closed[0]));
}

int cbt_ledger_commit(struct cbt_ledger *l, u64 epoch, u32 *freed_slot)
{
	int i = find_closed(l, epoch);

	if (i < 0)
		return i;
	/* An incremental chain needs epochs committed in the order they closed. */
	if (i != 0)
		return -EINVAL;
	drop_closed(l, i, freed_slot);
	l->last_committed = epoch;
	return 0;
}

int cbt_ledger_abort(struct cbt_ledger *l, u64 epoch, u32 *freed_slot)
{
	int i = find_closed(l, epoch);

	if (i < 0)
		return i;
	drop_closed(l, i, freed_slot);
	return 0;
}

void cbt_ledger_slot_clean(struct cbt_ledger *l, u32 slot)
{
	if (slot < DM_CBT_MD_SLOTS)
		l->dirty_slots &= ~(1U << slot);
}

int cbt_ledger_find(const struct cbt_ledger *l, u64 epoch)
{
	int i;

	if (epoch == l->open_epoch)
		return l->open_slot;
	i = find_closed(l, epoch);
	return i < 0 ? i : l->closed[i].slot;
}

static u32 sb_checksum(const void *page)
{
	return crc32c(~0U, (const u8 *)page + sizeof(__le32),
		      DM_CBT_MD_PAGE_SIZE - sizeof(__le32));
}

void cbt_sb_encode(const struct cbt_ledger *l, void *page)
{
	struct cbt_sb_disk *sb = page;
	u32 i;

	BUILD_BUG_ON(sizeof(struct cbt_sb_disk) > DM_CBT_MD_PAGE_SIZE);
	memset(page, 0, DM_CBT_MD_PAGE_SIZE);
	sb->version = cpu_to_le32(l->region_pages ? 3 : 2);
	sb->magic = cpu_to_le64(DM_CBT_MD_MAGIC);
	sb->seq = cpu_to_le64(l->seq);
	memcpy(sb->uuid, l->uuid, sizeof(sb->uuid));
	sb->block_size = cpu_to_le32(l->block_size);
	sb->dirty_slots = cpu_to_le32(l->dirty_slots);
	sb->nr_blocks = cpu_to_le64(l->nr_blocks);
	sb->slot_pages = cpu_to_le64(l->slot_pages);
	sb->open_epoch = cpu_to_le64(l->open_epoch);
	sb->open_slot = cpu_to_le32(l->open_slot);
	sb->nr_closed = cpu_to_le32(l->nr_closed);
	for (i = 0; i < l->nr_closed; i++) {
		sb->closed[i].epoch = cpu_to_le64(l->closed[i].epoch);
		sb->closed[i].slot = cpu_to_le32(l->closed[i].slot);
	}
	sb->last_committed = cpu_to_le64(l->last_committed);
	sb->origin_sectors = cpu_to_le64(l->origin_sectors);
	sb->fp_sectors = cpu_to_le64(l->fp_sectors);
	sb->fingerprint = cpu_to_le64(l->fingerprint);
	sb->flags = cpu_to_le32((l->fp_valid ? CBT_SB_FP_VALID : 0) |
				(l->io_known ? CBT_SB_IO_KNOWN : 0));
	sb->detach = cpu_to_le32(l->detach);
	sb->io_writes = cpu_to_le64(l->io_writes);
	sb->io_discards = cpu_to_le64(l->io_discards);
	sb->md_nonce = cpu_to_le64(l->md_nonce);
	sb->md_diskseq = cpu_to_le64(l->md_diskseq);
	sb->md_devt = cpu_to_le32(l->md_devt);
	sb->region_shift = cpu_to_le32(l->region_shift);
	sb->region_pages = cpu_to_le64(l->region_pages);
	sb->csum = cpu_to_le32(sb_checksum(page));
}

static bool page_is_zero(const void *page)
{
	return !memchr_inv(page, 0, DM_CBT_MD_PAGE_SIZE);
}

/* Cross-checks the fields; the checksum only proves what was written. */
static bool ledger_consistent(const struct cbt_ledger *l)
{
	u32 seen, i;

	if (l->block_size < DM_CBT_MIN_BLOCK_SIZE ||
	    l->block_size > DM_CBT_MAX_BLOCK_SIZE ||
	    !is_power_of_2(l->block_size))
		return false;
	if (!l->nr_blocks || l->nr_closed > DM_CBT_MAX_CLOSED ||
	    l->open_slot >= DM_CBT_MD_SLOTS || l->open_epoch == 0 ||
	    (l->dirty_slots & ~ALL_SLOTS_MASK))
		return false;
	if (l->slot_pages &&
	    l->nr_blocks > l->slot_pages * DM_CBT_MD_PAGE_SIZE * 8)
		return false;
	/* Version 2: the size the fingerprint was taken at needs exactly nr_blocks. */
	if (l->version >= 2 &&
	    DIV_ROUND_UP_ULL(l->origin_sectors, l->block_size >> 9) != l->nr_blocks)
		return false;
	if (l->detach >= __CBT_DETACH_MAX || l->fp_sectors > l->origin_sectors)
		return false;
	/* Version 3: region maps that cover every slot page. */
	if (l->version >= 3 &&
	    (!l->slot_pages || l->region_shift != cbt_region_shift(l->block_size) ||
	     l->region_pages < DIV_ROUND_UP_ULL(l->slot_pages, 1ULL << l->region_shift)))
		return false;
	/* Committed epochs come before every closed and the open one. */
	if (l->last_committed >= (l->nr_closed ? l->closed[0].epoch : l->open_epoch))
		return false;
	seen = 1U << l->open_slot;
	for (i = 0; i < l->nr_closed; i++) {
		const struct cbt_closed_epoch *c = &l->closed[i];

		if (c->slot >= DM_CBT_MD_SLOTS || (seen & (1U << c->slot)))
			return false;
		seen |= 1U << c->slot;
		if (c->epoch >= l->open_epoch ||
		    (i && c->epoch <= l->closed[i - 1].epoch))
			return false;
	}
	return !(seen & l->dirty_slots);
}

int cbt_sb_decode(const void *page, struct cbt_ledger *l)
{
	const struct cbt_sb_disk *sb = page;
	u32 i;

	u32 version, flags;

	BUILD_BUG_ON(offsetof(struct cbt_sb_disk, magic) != DM_CBT_MD_MAGIC_OFFSET);
	if (page_is_zero(page))
		return -ENODATA;
	/* Checked first: overwriting the magic broke the checksum on purpose. */
	if (le64_to_cpu(sb->magic) == DM_CBT_MD_STALE_MAGIC)
		return -ESTALE;
	if (le64_to_cpu(sb->magic) != DM_CBT_MD_MAGIC)
		return -EILSEQ;
	/*
	 * The checksum first: a flipped version bit is damage, and one damaged
	 * copy must not refuse the other. Every version keeps the crc32c at
	 * offset 0 and the version at offset 4 (include/uapi/linux/dm-cbt.h).
	 */
	if (le32_to_cpu(sb->csum) != sb_checksum(page))
		return -EBADMSG;
	version = le32_to_cpu(sb->version);
	if (version > DM_CBT_MD_VERSION)
		return -EPROTO;
	if (!version)
		return -EUCLEAN;
	memset(l, 0, sizeof(*l));
	l->version = version;
	l->seq = le64_to_cpu(sb->seq);
	memcpy(l->uuid, sb->uuid, sizeof(l->uuid));
	l->block_size = le32_to_cpu(sb->block_size);
	l->dirty_slots = le32_to_cpu(sb->dirty_slots);
	l->nr_blocks = le64_to_cpu(sb->nr_blocks);
	l->slot_pages = le64_to_cpu(sb->slot_pages);
	l->open_epoch = le64_to_cpu(sb->open_epoch);
	l->open_slot = le32_to_cpu(sb->open_slot);
	l->nr_closed = le32_to_cpu(sb->nr_closed);
	if (l->nr_closed > DM_CBT_MAX_CLOSED)
		return -EUCLEAN;
	for (i = 0; i < l->nr_closed; i++) {
		l->closed[i].epoch = le64_to_cpu(sb->closed[i].epoch);
		l->closed[i].slot = le32_to_cpu(sb->closed[i].slot);
	}
	l->last_committed = le64_to_cpu(sb->last_committed);
	if (version == 1) {
		/* Version 1 had nothing past last_committed: zero there, or not ours. */
		if (memchr_inv((const u8 *)page + CBT_SB_V1_SIZE, 0,
			       DM_CBT_MD_PAGE_SIZE - CBT_SB_V1_SIZE))
			return -EUCLEAN;
		return ledger_consistent(l) ? 0 : -EUCLEAN;
	}
	flags = le32_to_cpu(sb->flags);
	if (flags & ~CBT_SB_FLAGS_ALL)
		return -EUCLEAN;
	l->origin_sectors = le64_to_cpu(sb->origin_sectors);
	l->fp_sectors = le64_to_cpu(sb->fp_sectors);
	l->fingerprint = le64_to_cpu(sb->fingerprint);
	l->fp_valid = flags & CBT_SB_FP_VALID;
	l->detach = le32_to_cpu(sb->detach);
	l->io_known = flags & CBT_SB_IO_KNOWN;
	l->io_writes = le64_to_cpu(sb->io_writes);
	l->io_discards = le64_to_cpu(sb->io_discards);
	l->md_nonce = le64_to_cpu(sb->md_nonce);
	l->md_diskseq = le64_to_cpu(sb->md_diskseq);
	l->md_devt = le32_to_cpu(sb->md_devt);
	if (version >= 3) {
		l->region_shift = le32_to_cpu(sb->region_shift);
		l->region_pages = le64_to_cpu(sb->region_pages);
	}
	return ledger_consistent(l) ? 0 : -EUCLEAN;
}
