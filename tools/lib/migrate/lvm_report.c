// SPDX-License-Identifier: GPL-2.0
/*
 * LVM's report of a PV (lvm.h): `lvm pvs --segments --reportformat json
 * -o MIG_LVM_FIELDS', read with json-c, and what it allows. No I/O: the
 * unit tests give it reports.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "migrate/lvm.h"
#include "util/util.h"

static const char *field(json_object *row, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(row, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static uint64_t field_u64(json_object *row, const char *key)
{
	return strtoull(field(row, key), NULL, 10);
}

static struct mig_lv *lv_of(const struct mig_pv *pv, const char *uuid)
{
	for (size_t i = 0; i < pv->nlv; i++)
		if (!strcmp(pv->lv[i].uuid, uuid))
			return &pv->lv[i];
	return NULL;
}

/* One segment row: the PV's first, then its LV's, a new LV when it is the first of it. */
static int add_row(struct mig_pv *pv, json_object *row, size_t nrows)
{
	const char *uuid = field(row, "lv_uuid");
	struct mig_lv *lv;
	struct mig_lvseg *s;

	if (!pv->extent) {
		snprintf(pv->pv_uuid, sizeof(pv->pv_uuid), "%s", field(row, "pv_uuid"));
		snprintf(pv->vg, sizeof(pv->vg), "%s", field(row, "vg_name"));
		snprintf(pv->vg_uuid, sizeof(pv->vg_uuid), "%s", field(row, "vg_uuid"));
		pv->seqno = field_u64(row, "vg_seqno");
		pv->pe_start = field_u64(row, "pe_start");
		pv->extent = field_u64(row, "vg_extent_size");
		pv->pe_count = field_u64(row, "pv_pe_count");
		pv->pe_alloc = field_u64(row, "pv_pe_alloc_count");
		if (field_u64(row, "pv_count") > 1)
			return cbt_err(-EOPNOTSUPP, "its VG %s spans %" PRIu64 " PVs: only a VG on"
				       " one PV is migrated", pv->vg, field_u64(row, "pv_count"));
		if (field_u64(row, "pv_mda_count") > 1)
			return cbt_err(-EOPNOTSUPP, "the PV has %" PRIu64 " metadata areas: only one"
				       " (pvcreate's default, at its start) is migrated",
				       field_u64(row, "pv_mda_count"));
		pv->lv = calloc(nrows, sizeof(*pv->lv));
		if (!pv->lv)
			return -ENOMEM;
	}
	if (!*uuid)
		return 0;	/* free extents */
	lv = lv_of(pv, uuid);
	if (!lv) {
		lv = &pv->lv[pv->nlv++];
		snprintf(lv->uuid, sizeof(lv->uuid), "%s", uuid);
		snprintf(lv->name, sizeof(lv->name), "%s", field(row, "lv_name"));
		snprintf(lv->dm_path, sizeof(lv->dm_path), "%s", field(row, "lv_dm_path"));
		lv->linear = true;
		lv->seg = calloc(nrows, sizeof(*lv->seg));
		if (!lv->seg)
			return -ENOMEM;
	}
	s = &lv->seg[lv->nseg++];
	s->pe = field_u64(row, "pvseg_start");
	s->count = field_u64(row, "pvseg_size");
	s->le = field_u64(row, "seg_start_pe");
	lv->extents += s->count;
	lv->linear &= !strcmp(field(row, "segtype"), "linear");
	if (s->pe + s->count > pv->used_end)
		pv->used_end = s->pe + s->count;
	return 0;
}

static int cmp_le(const void *a, const void *b)
{
	const struct mig_lvseg *x = a, *y = b;

	return x->le < y->le ? -1 : x->le > y->le;
}

/* The rows of the one report in LVM's JSON: {"report": [{"pvseg": [...]}]}. */
static json_object *report_rows(json_object *root)
{
	json_object *rep, *first;

	if (!json_object_object_get_ex(root, "report", &rep) ||
	    !json_object_is_type(rep, json_type_array) || !json_object_array_length(rep))
		return NULL;
	first = json_object_array_get_idx(rep, 0);
	if (!json_object_is_type(first, json_type_object))
		return NULL;
	json_object_object_foreach(first, key, val) {
		(void)key;
		if (json_object_is_type(val, json_type_array))
			return val;
	}
	return NULL;
}

int mig_lvm_parse(struct mig_pv *pv, const char *json, const char *src)
{
	json_object *root = json_tokener_parse(json), *rows = root ? report_rows(root) : NULL;
	size_t n = rows ? json_object_array_length(rows) : 0;
	int ret = 0;

	if (!n)
		ret = cbt_err(-EIO, "`lvm pvs --reportformat json' gave no report of %s", src);
	for (size_t k = 0; k < n && !ret; k++)
		ret = add_row(pv, json_object_array_get_idx(rows, k), n);
	if (!ret && (!pv->extent || pv->pe_start % 512 || pv->extent % 512))
		ret = cbt_err(-EIO, "LVM reports PV %s with extents of %" PRIu64 " bytes from"
			      " byte %" PRIu64, src, pv->extent, pv->pe_start);
	for (size_t i = 0; i < pv->nlv && !ret; i++)
		qsort(pv->lv[i].seg, pv->lv[i].nseg, sizeof(*pv->lv[i].seg), cmp_le);
	json_object_put(root);
	return ret;
}

static bool same_lv(const struct mig_lv *a, const struct mig_lv *b)
{
	if (strcmp(a->name, b->name) || a->nseg != b->nseg || a->linear != b->linear)
		return false;
	for (size_t k = 0; k < a->nseg; k++)
		if (a->seg[k].le != b->seg[k].le || a->seg[k].pe != b->seg[k].pe ||
		    a->seg[k].count != b->seg[k].count)
			return false;
	return true;
}

bool mig_lvm_same(const struct mig_pv *was, const struct mig_pv *now, char *why, size_t len)
{
	snprintf(why, len, "its sequence number went from %" PRIu64 " to %" PRIu64, was->seqno,
		 now->seqno);
	if (was->seqno != now->seqno)
		return false;
	snprintf(why, len, "its PV or extents are not the same");
	if (strcmp(was->pv_uuid, now->pv_uuid) || strcmp(was->vg_uuid, now->vg_uuid) ||
	    strcmp(was->vg, now->vg) || was->pe_start != now->pe_start ||
	    was->extent != now->extent || was->pe_count != now->pe_count ||
	    was->pe_alloc != now->pe_alloc)
		return false;
	for (size_t i = 0; i < now->nlv; i++) {
		const struct mig_lv *b = &now->lv[i];
		const struct mig_lv *a = lv_of(was, b->uuid);

		snprintf(why, len, "LV %s %s", b->name, a ? "has other extents" : "was created");
		if (!a || !same_lv(a, b))
			return false;
	}
	for (size_t i = 0; i < was->nlv; i++) {
		snprintf(why, len, "LV %s was removed", was->lv[i].name);
		if (!lv_of(now, was->lv[i].uuid))
			return false;
	}
	why[0] = '\0';
	return true;
}

void mig_lvm_clear(struct mig_pv *pv)
{
	for (size_t i = 0; i < pv->nlv; i++)
		free(pv->lv[i].seg);
	free(pv->lv);
	memset(pv, 0, sizeof(*pv));
}

int mig_lvm_check_shrink(const struct mig_part *p, uint64_t new_bytes)
{
	const struct mig_pv *pv = p->pv;
	uint64_t end = pv->pe_start + pv->used_end * pv->extent;
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];
	const char *who = "";

	if (end <= new_bytes)
		return 0;
	for (size_t i = 0; i < pv->nlv && !*who; i++)
		for (size_t k = 0; k < pv->lv[i].nseg; k++)
			if (pv->lv[i].seg[k].pe + pv->lv[i].seg[k].count == pv->used_end)
				who = pv->lv[i].name;
	return cbt_err(-ENOSPC, "%s cannot shrink to %s: its LVM PV has an extent in use (LV %s)"
		       " up to %s; move it (pvmove) or migrate to a larger disk", p->src,
		       cbt_human_size(new_bytes, a), who, cbt_human_size(end, b));
}
