// SPDX-License-Identifier: GPL-2.0
/* migrate/layout.c: where partitions go on a larger or smaller disk. */
#include <errno.h>
#include <string.h>

#include "migrate/plan.h"
#include "unit.h"

#define MIB 2048ULL	/* sectors of 512 bytes */

/* A GPT disk of @mib MiB: BIOS boot, ESP, root from 98 MiB to the last usable sector. */
static void disk(struct mig_plan *pl, struct mig_part *p, uint64_t src_mib, uint64_t tgt_mib)
{
	memset(pl, 0, sizeof(*pl));
	memset(p, 0, 3 * sizeof(*p));
	strcpy(pl->src, "/dev/vda");
	strcpy(pl->tgt, "/dev/vdb");
	strcpy(pl->label, "gpt");
	pl->sector = 512;
	pl->src_sectors = src_mib * MIB;
	pl->src_last = pl->src_sectors - 34;
	pl->tgt_sectors = tgt_mib * MIB;
	pl->tgt_last = pl->tgt_sectors - 34;
	p[0] = (struct mig_part){ .partno = 0, .start = MIB, .size = MIB };
	p[1] = (struct mig_part){ .partno = 1, .start = 2 * MIB, .size = 32 * MIB };
	p[2] = (struct mig_part){ .partno = 2, .start = 34 * MIB,
				  .size = pl->src_last + 1 - 34 * MIB };
	pl->p = p;
	pl->n = 3;
}

static void grows_the_last(void)
{
	struct mig_plan pl;
	struct mig_part p[3];

	disk(&pl, p, 256, 512);
	CHECK_EQ(mig_layout(&pl, 0), 0);
	CHECK_EQ(pl.grow, 2);
	CHECK_EQ(pl.shift, (int64_t)(256 * MIB));
	CHECK_EQ(p[0].new_start, MIB);
	CHECK_EQ(p[0].new_size, MIB);
	CHECK_EQ(p[1].new_size, 32 * MIB);
	CHECK_EQ(p[2].new_start, 34 * MIB);
	CHECK_EQ(p[2].new_size, p[2].size + 256 * MIB);
	/* the free tail keeps its size: the partition ends at the new last usable sector */
	CHECK_EQ(p[2].new_start + p[2].new_size - 1, pl.tgt_last);
}

static void grow_one_moves_the_rest(void)
{
	struct mig_plan pl;
	struct mig_part p[3];

	disk(&pl, p, 256, 300);
	CHECK_EQ(mig_layout(&pl, 2), 0);
	CHECK_EQ(pl.grow, 1);
	CHECK_EQ(p[1].new_size, (32 + 44) * MIB);
	CHECK_EQ(p[2].new_start, (34 + 44) * MIB);
	CHECK_EQ(p[2].new_size, p[2].size);
	CHECK_EQ(mig_layout(&pl, 7), -EINVAL);
}

static void shrinks_by_whole_mib(void)
{
	struct mig_plan pl;
	struct mig_part p[3];

	disk(&pl, p, 256, 200);
	pl.tgt_sectors += 100;		/* not a whole MiB smaller: it loses the whole MiB */
	pl.tgt_last += 100;
	CHECK_EQ(mig_layout(&pl, 0), 0);
	CHECK_EQ(pl.shift, -(int64_t)(56 * MIB));
	CHECK_EQ(p[2].new_size, p[2].size - 56 * MIB);
	CHECK(p[2].new_start + p[2].new_size - 1 <= pl.tgt_last);
}

static void refuses_what_cannot_fit(void)
{
	struct mig_plan pl;
	struct mig_part p[3];

	disk(&pl, p, 256, 32);
	CHECK_EQ(mig_layout(&pl, 0), -ENOSPC);
	disk(&pl, p, 256, 200);
	CHECK_EQ(mig_layout(&pl, 1), -ENOSPC);	/* the BIOS boot partition cannot lose 56 MiB */
	pl.n = 0;
	CHECK_EQ(mig_layout(&pl, 0), -EINVAL);
}

UT_MAIN("migrate_plan",
	UT_CASE(grows_the_last),
	UT_CASE(grow_one_moves_the_rest),
	UT_CASE(shrinks_by_whole_mib),
	UT_CASE(refuses_what_cannot_fit))
