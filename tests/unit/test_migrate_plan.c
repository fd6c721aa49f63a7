// SPDX-License-Identifier: GPL-2.0
/*
 * migrate/layout.c: where partitions go on a larger or smaller disk;
 * migrate/lvm_report.c: LVM's JSON report of a PV, and whether it fits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate/lvm.h"
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

/*
 * One row of `lvm pvs --segments --reportformat json --units b --nosuffix
 * -o MIG_LVM_FIELDS': a PV of 39 extents of 4 MiB from 1 MiB on.
 */
#define ROW(pvc, mda, start, size, lv, uuid, le, type)				\
	"{\"pv_uuid\":\"PVU\", \"vg_name\":\"mgl\", \"vg_uuid\":\"VGU\", \"vg_seqno\":\"7\","	\
	"\"pe_start\":\"1048576\", \"vg_extent_size\":\"4194304\","		\
	"\"pv_pe_count\":\"39\", \"pv_pe_alloc_count\":\"15\", \"pv_count\":\"" pvc "\","	\
	"\"pv_mda_count\":\"" mda "\", \"pvseg_start\":\"" start "\","			\
	"\"pvseg_size\":\"" size "\", \"lv_name\":\"" lv "\", \"lv_uuid\":\"" uuid "\","	\
	"\"lv_dm_path\":\"/dev/mapper/mgl-" lv "\", \"seg_start_pe\":\"" le "\","		\
	"\"segtype\":\"" type "\"}"
#define REPORT(...) "{\"report\": [{\"pvseg\": [" __VA_ARGS__ "]}]}"

static void lvm_report_read(void)
{
	/* data in two segments, its second one first on the PV; free extents between. */
	const char *json = REPORT(ROW("1", "1", "0", "4", "web", "U2", "0", "linear") ","
				  ROW("1", "1", "4", "6", "data", "U1", "2", "linear") ","
				  ROW("1", "1", "10", "2", "data", "U1", "0", "linear") ","
				  ROW("1", "1", "12", "5", "", "", "0", "free") ","
				  ROW("1", "1", "17", "3", "raw", "U3", "0", "striped") ","
				  ROW("1", "1", "20", "19", "", "", "0", "free"));
	struct mig_part p = { .src = "/dev/vda1" };
	struct mig_pv *pv = calloc(1, sizeof(*pv));
	const struct mig_lv *d;

	CHECK(pv);
	p.pv = pv;
	CHECK_EQ(mig_lvm_parse(pv, json, p.src), 0);
	CHECK_STR(pv->pv_uuid, "PVU");
	CHECK_STR(pv->vg, "mgl");
	CHECK_EQ(pv->seqno, 7);
	CHECK_EQ(pv->pe_start, 1048576);
	CHECK_EQ(pv->extent, 4194304);
	CHECK_EQ(pv->pe_count, 39);
	CHECK_EQ(pv->nlv, 3);
	CHECK_EQ(pv->used_end, 20);
	d = &pv->lv[1];
	CHECK_STR(d->name, "data");
	CHECK_STR(d->dm_path, "/dev/mapper/mgl-data");
	CHECK_EQ(d->extents, 8);
	CHECK_EQ(d->nseg, 2);
	/* By le: the LV's start is the PV's extent 10. */
	CHECK_EQ(d->seg[0].le, 0);
	CHECK_EQ(d->seg[0].pe, 10);
	CHECK_EQ(d->seg[1].le, 2);
	CHECK_EQ(d->seg[1].pe, 4);
	CHECK(d->linear);
	CHECK(!pv->lv[2].linear);
	/* Fits up to the end of extent 19: 1 MiB + 20 * 4 MiB. */
	CHECK_EQ(mig_lvm_check_shrink(&p, 81ULL << 20), 0);
	CHECK_ERR(mig_lvm_check_shrink(&p, (81ULL << 20) - 512), -ENOSPC,
		  "/dev/vda1 cannot shrink to 81.0 MiB: its LVM PV has an extent in use (LV raw)"
		  " up to 81 MiB");
	mig_lvm_free(&p);
	CHECK(!p.pv);
}

static void lvm_report_refused(void)
{
	static const struct {
		const char *json;
		int err;
		const char *why;
	} bad[] = {
		{ REPORT(ROW("2", "1", "0", "4", "a", "U1", "0", "linear")), -EOPNOTSUPP,
		  "its VG mgl spans 2 PVs" },
		{ REPORT(ROW("1", "2", "0", "4", "a", "U1", "0", "linear")), -EOPNOTSUPP,
		  "the PV has 2 metadata areas" },
		{ REPORT(), -EIO, "gave no report of /dev/vda1" },
		{ "{\"report\": [{\"pvseg\": {}}]}", -EIO, "gave no report" },
		{ "not json", -EIO, "gave no report" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mig_part p = { .src = "/dev/vda1" };

		p.pv = calloc(1, sizeof(*p.pv));
		CHECK(p.pv);
		CHECK_ERR(mig_lvm_parse(p.pv, bad[i].json, p.src), bad[i].err, bad[i].why);
		mig_lvm_free(&p);
	}
}

/* The VG read again after the copy: what counts as a change of its metadata. */
static void lvm_metadata_changed(void)
{
	const char *json = REPORT(ROW("1", "1", "0", "4", "web", "U2", "0", "linear") ","
				  ROW("1", "1", "4", "6", "data", "U1", "2", "linear") ","
				  ROW("1", "1", "10", "2", "data", "U1", "0", "linear") ","
				  ROW("1", "1", "12", "27", "", "", "0", "free"));
	/* data extended by 2 extents after its last one, in the report read again. */
	const char *extended = REPORT(ROW("1", "1", "0", "4", "web", "U2", "0", "linear") ","
				      ROW("1", "1", "4", "6", "data", "U1", "2", "linear") ","
				      ROW("1", "1", "10", "2", "data", "U1", "0", "linear") ","
				      ROW("1", "1", "12", "2", "data", "U1", "8", "linear") ","
				      ROW("1", "1", "14", "25", "", "", "0", "free"));
	struct mig_pv was = { 0 }, now = { 0 };
	char why[300];

	CHECK_EQ(mig_lvm_parse(&was, json, "/dev/vda1"), 0);
	CHECK_EQ(mig_lvm_parse(&now, json, "/dev/vda1"), 0);
	CHECK(mig_lvm_same(&was, &now, why, sizeof(why)));
	CHECK_STR(why, "");
	/* Any commit of the VG's metadata: its sequence number. */
	now.seqno = 8;
	CHECK(!mig_lvm_same(&was, &now, why, sizeof(why)));
	CHECK_STR(why, "its sequence number went from 7 to 8");
	/* The same number, other extents (metadata written with --nolocking, say). */
	mig_lvm_clear(&now);
	CHECK_EQ(mig_lvm_parse(&now, extended, "/dev/vda1"), 0);
	CHECK_EQ(now.seqno, 7);
	CHECK(!mig_lvm_same(&was, &now, why, sizeof(why)));
	CHECK_STR(why, "LV data has other extents");
	now.lv[0].nseg = 0;
	snprintf(now.lv[0].uuid, sizeof(now.lv[0].uuid), "U9");
	CHECK(!mig_lvm_same(&was, &now, why, sizeof(why)));
	CHECK_STR(why, "LV web was created");
	/* An LV gone: the one left is the same as it was. */
	mig_lvm_clear(&now);
	CHECK_EQ(mig_lvm_parse(&now, json, "/dev/vda1"), 0);
	now.nlv = 1;
	CHECK(!mig_lvm_same(&was, &now, why, sizeof(why)));
	CHECK_STR(why, "LV data was removed");
	now.nlv = 2;
	now.pe_alloc++;
	CHECK(!mig_lvm_same(&was, &now, why, sizeof(why)));
	CHECK_STR(why, "its PV or extents are not the same");
	mig_lvm_clear(&now);
	mig_lvm_clear(&was);
	CHECK_EQ(was.nlv, 0);
}

/* on_wait of mig_lvm_lock(): counts its calls, lets the writer go (or fails). */
static int lock_waits, lock_writer = -1, lock_wait_err;

static int lock_on_wait(void)
{
	lock_waits++;
	if (lock_wait_err)
		return lock_wait_err;
	close(lock_writer);
	lock_writer = -1;
	return 0;
}

/* LVM's lock of the VG: taken shared beside LVM's readers, waited for behind a writer. */
static void lvm_lock_shared(void)
{
	char dir[] = "/tmp/cbt-ut-lvmlock-XXXXXX", path[64];
	struct mig_pv pv = { .vg = "mgl" };
	volatile sig_atomic_t stop = 1;
	int reader, writer, fd;
	struct stat st;

	CHECK(mkdtemp(dir));
	snprintf(pv.lock_dir, sizeof(pv.lock_dir), "%s/none", dir);
	CHECK_EQ(mig_lvm_lock(&pv, &stop, NULL), -ENOENT);	/* no lock directory: no LVM lock */
	snprintf(pv.lock_dir, sizeof(pv.lock_dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/V_mgl", dir);
	/* Created as LVM creates it, and shared with an LVM reader. */
	fd = mig_lvm_lock(&pv, &stop, NULL);
	CHECK(fd >= 0);
	CHECK_EQ(stat(path, &st), 0);
	reader = open(path, O_RDWR | O_CLOEXEC);
	CHECK(reader >= 0);
	CHECK_EQ(flock(reader, LOCK_SH | LOCK_NB), 0);
	/* An LVM command that would change the VG cannot. */
	writer = open(path, O_RDWR | O_CLOEXEC);
	CHECK(writer >= 0);
	CHECK_EQ(flock(writer, LOCK_EX | LOCK_NB), -1);
	CHECK_EQ(errno, EWOULDBLOCK);
	close(fd);
	close(reader);
	/* Held exclusive: waited for until a signal stops the wait. */
	CHECK_EQ(flock(writer, LOCK_EX | LOCK_NB), 0);
	CHECK_EQ(mig_lvm_lock(&pv, &stop, NULL), -EINTR);
	/* on_wait runs once, with the writer holding it; its error ends the wait. */
	lock_wait_err = -ECANCELED;
	CHECK_EQ(mig_lvm_lock(&pv, &stop, lock_on_wait), -ECANCELED);
	CHECK_EQ(lock_waits, 1);
	/* Once the writer lets go (in on_wait here), it is taken. */
	lock_wait_err = 0;
	lock_writer = writer;
	stop = 0;
	fd = mig_lvm_lock(&pv, &stop, lock_on_wait);
	CHECK(fd >= 0);
	CHECK_EQ(lock_waits, 2);
	CHECK_EQ(lock_writer, -1);
	close(fd);
	stop = 1;
	/* Unlinked by the LVM command that held it last: a new one is taken. */
	CHECK_EQ(unlink(path), 0);
	fd = mig_lvm_lock(&pv, &stop, NULL);
	CHECK(fd >= 0);
	CHECK_EQ(stat(path, &st), 0);
	close(fd);
	unlink(path);
	rmdir(dir);
}

UT_MAIN("migrate_plan",
	UT_CASE(grows_the_last),
	UT_CASE(grow_one_moves_the_rest),
	UT_CASE(shrinks_by_whole_mib),
	UT_CASE(refuses_what_cannot_fit),
	UT_CASE(lvm_report_read),
	UT_CASE(lvm_report_refused),
	UT_CASE(lvm_metadata_changed),
	UT_CASE(lvm_lock_shared))
