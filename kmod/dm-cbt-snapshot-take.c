// SPDX-License-Identifier: GPL-2.0
/*
 * Taking point-in-time snapshots of cbt devices, one or several at the same
 * instant, and reporting a snapshot's state over netlink. See
 * docs/snapshot.md.
 */
#include <linux/blkdev.h>
#include <net/genetlink.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-snapshot.h"

/*
 * Everything below runs under cbt_snapshot_lock, so each device's snapshot
 * stays attached and keeps the cbt device open: that open bdev, never
 * t->md (cleared by the dtr under another lock), is what gets frozen.
 */
int cbt_take_snapshots(struct cbt_tracker **ts, unsigned int n, bool freeze,
		       u64 *epochs, u64 *freeze_ns, u64 *hold_ns, const char **why)
{
	unsigned int i, frozen = 0, closed = 0;
	ktime_t t0, t1, t2, t3;
	int r = 0;

	mutex_lock(&cbt_snapshot_lock);
	for (i = 0; i < n; i++) {
		struct cbt_snapshot *s = snap_of(ts[i]);

		if (!s) {
			*why = "No snapshot device attached (create a cbt-snap device first)";
			r = -ENOENT;
			goto out;
		}
		if (s->state != CBT_SNAP_PREPARED) {
			*why = "The snapshot device was taken already; attach a new one";
			r = -EBUSY;
			goto out;
		}
		if (READ_ONCE(ts[i]->dead)) {
			*why = "The cbt device is gone (removed, or its table replaced)";
			r = -ENODEV;
			goto out;
		}
		if (ts[i]->ledger.nr_closed >= DM_CBT_MAX_CLOSED) {
			*why = "Too many closed epochs: commit or abort one first";
			r = -EBUSY;
			goto out;
		}
	}
	t0 = ktime_get();
	if (freeze) {
		for (frozen = 0; frozen < n; frozen++) {
			r = cbt_freeze_bdev(cbt_bdev_of(&snap_of(ts[frozen])->cbt_ref));
			if (r) {
				*why = "Cannot freeze the filesystem";
				goto thaw;
			}
		}
	}
	t1 = ktime_get();
	for (i = 0; i < n; i++)
		cbt_hold_writes(ts[i]);
	for (i = 0; i < n; i++)
		cbt_wait_writes(ts[i]);
	for (closed = 0; closed < n; closed++) {
		r = cbt_close_epoch(ts[closed], &epochs[closed]);
		if (r) {
			*why = "Cannot close an epoch";
			break;
		}
	}
	if (r) {
		/* All or nothing: fold back what was closed. */
		for (i = 0; i < closed; i++)
			cbt_abort_epoch(ts[i], epochs[i]);
	} else {
		for (i = 0; i < n; i++) {
			struct cbt_snapshot *s = snap_of(ts[i]);

			s->origin_bdev = ts[i]->origin_bdev;
			s->epoch = epochs[i];
			s->taken = ktime_get();
			/* No write is in flight: the switch is one instant for all. */
			WRITE_ONCE(s->state, CBT_SNAP_ACTIVE);
		}
	}
	for (i = 0; i < n; i++)
		cbt_release_writes(ts[i]);
	t2 = ktime_get();
thaw:
	for (i = 0; i < frozen; i++)
		cbt_thaw_bdev(cbt_bdev_of(&snap_of(ts[i])->cbt_ref));
	t3 = ktime_get();
	if (!r) {
		*hold_ns = ktime_to_ns(ktime_sub(t2, t1));
		*freeze_ns = freeze ? ktime_to_ns(ktime_sub(t3, t0)) : 0;
	}
out:
	mutex_unlock(&cbt_snapshot_lock);
	if (!r)
		for (i = 0; i < n; i++)
			cbt_notify(ts[i], CBT_EVENT_SNAPSHOT_TAKEN, epochs[i]);
	return r;
}

int cbt_snap_fill(struct sk_buff *skb, struct cbt_tracker *t)
{
	struct cbt_snapshot *s;
	struct nlattr *nest;
	u64 used;
	int r = 0;

	mutex_lock(&cbt_snapshot_lock);
	s = snap_of(t);
	if (!s)
		goto out;
	used = min_t(u64, atomic64_read(&s->cow_next), s->cow_chunks);
	nest = nla_nest_start(skb, CBT_A_SNAPSHOT);
	if (!nest ||
	    nla_put_u32(skb, CBT_A_SNAP_STATE, READ_ONCE(s->state)) ||
	    nla_put_u32(skb, CBT_A_SNAP_ERROR, -s->error) ||
	    nla_put_u64_64bit(skb, CBT_A_EPOCH_NUMBER, s->epoch, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_AGE_MS, s->state == CBT_SNAP_PREPARED ? 0 :
			      ktime_ms_delta(ktime_get(), s->taken), CBT_A_PAD) ||
	    nla_put_u32(skb, CBT_A_SNAP_CHUNK_SIZE, s->chunk_sectors << SECTOR_SHIFT) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_COW_USED,
			      (used << s->chunk_shift) << SECTOR_SHIFT, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_COW_TOTAL,
			      (s->cow_chunks << s->chunk_shift) << SECTOR_SHIFT, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_COPIED, cbt_bitmap_weight(&s->copied), CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_SECTORS, s->sectors, CBT_A_PAD)) {
		r = -EMSGSIZE;
		goto out;
	}
	nla_nest_end(skb, nest);
out:
	mutex_unlock(&cbt_snapshot_lock);
	return r;
}
