// SPDX-License-Identifier: GPL-2.0
/*
 * Taking point-in-time snapshots of cbt devices, one or several at the same
 * instant, and reporting a snapshot's state over netlink. See
 * docs/snapshot.md.
 */
#include <linux/blkdev.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <net/genetlink.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-snapshot.h"

/* Does @y's I/O (its origin or its metadata) go through @x's device? */
static bool stacked_on(struct cbt_tracker *y, struct block_device *x_disk)
{
	return cbt_bdev_on(y->origin_bdev, x_disk) ||
	       (y->meta_bdev && cbt_bdev_on(y->meta_bdev, x_disk));
}

/*
 * Order @n members (indexes into @ts, in @order) so that each comes before
 * every member it is stacked on: holding a lower device first would park
 * the upper one's writes in flight (or its metadata writes) behind it for
 * good. Fills @disks with each member's device in that order, pinned by
 * its snapshot's open. -ELOOP for a cycle (a metadata device on its own
 * cbt device, or on a member above it).
 */
static int order_members(struct cbt_tracker **ts, unsigned int n, unsigned int *order,
			 struct block_device **disks, const char **why)
{
	unsigned int done = 0, i, j;
	u64 placed = 0;

	mutex_lock(&cbt_trackers_lock);
	for (i = 0; i < n; i++) {
		if (!ts[i]->md || !ts[i]->origin_bdev) {
			mutex_unlock(&cbt_trackers_lock);
			*why = "A device has no cbt table any more";
			return -ENODEV;
		}
	}
	while (done < n) {
		/* Pick a member no unplaced other member is stacked on. */
		for (i = 0; i < n; i++) {
			struct block_device *disk = dm_disk(ts[i]->md)->part0;

			if (placed & BIT_ULL(i))
				continue;
			for (j = 0; j < n; j++)
				if (!(placed & BIT_ULL(j)) && stacked_on(ts[j], disk))
					break;
			if (j == n)
				break;
		}
		if (i == n) {
			mutex_unlock(&cbt_trackers_lock);
			/* A string literal: the extack keeps the pointer. */
			*why = "Stacked in a loop (metadata on its own device or a member)";
			return -ELOOP;
		}
		placed |= BIT_ULL(i);
		order[done] = i;
		disks[done++] = dm_disk(ts[i]->md)->part0;
	}
	mutex_unlock(&cbt_trackers_lock);
	return 0;
}

/* A take's per-member arrays: 1.3 KiB, too large for the stack. */
struct take_state {
	struct block_device *disks[DM_CBT_MAX_GROUP];
	unsigned int order[DM_CBT_MAX_GROUP];
	struct cbt_epoch *next[DM_CBT_MAX_GROUP];
};

int cbt_take_snapshots(struct cbt_tracker **ts, unsigned int n, bool freeze,
		       const u64 *preserve_from, u64 *epochs, u64 *freeze_ns, u64 *hold_ns,
		       const char **why)
{
	struct block_device **disks;
	struct cbt_epoch **next;
	struct take_state *st;
	unsigned int *order;
	unsigned int i, frozen = 0, held = 0, closed = 0, noio;
	unsigned long deadline;
	ktime_t t0, t1, t2, t3;
	int r = 0;

	BUILD_BUG_ON(DM_CBT_MAX_GROUP > 64);
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		*why = "Out of memory: nothing taken";
		return -ENOMEM;
	}
	disks = st->disks;
	order = st->order;
	next = st->next;
	/* The next epochs, allocated before any lock or hold: reclaim may write. */
	for (i = 0; i < n; i++) {
		next[i] = cbt_epoch_alloc(ts[i], 0, 0);
		if (!next[i]) {
			*why = "Cannot allocate the next epochs";
			r = -ENOMEM;
			goto free;
		}
	}
	/*
	 * The members' claims, all at once: takes of other devices (and
	 * their waits for writes, metadata writes and freezes) run meanwhile.
	 */
	r = cbt_claim(ts, n, true);
	if (r) {
		*why = "Interrupted: nothing taken";
		goto free;
	}
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
	r = order_members(ts, n, order, disks, why);
	if (r)
		goto out;
	/* The grace period of the count's switch, before the freeze and the holds. */
	cbt_writes_atomic(ts, n);
	t0 = ktime_get();
	if (freeze) {
		for (frozen = 0; frozen < n; frozen++) {
			r = cbt_freeze_bdev(disks[frozen]);
			if (r) {
				*why = "Cannot freeze the filesystem";
				goto thaw;
			}
		}
	}
	t1 = ktime_get();
	/*
	 * Upper devices first, each held, drained and closed before the next
	 * is held: its writes in flight and its metadata writes reach the
	 * devices below while they still flow. Nothing is released before
	 * every member is held, so the instant is still one for all: a write
	 * that completed on any member before it was held is in the snapshot.
	 */
	noio = memalloc_noio_save();
	deadline = jiffies + CBT_DRAIN_TIMEOUT_SECS * HZ;
	for (held = 0; held < n; ) {
		i = order[held++];
		cbt_hold_writes(ts[i]);
		r = cbt_wait_writes(ts[i], deadline);
		if (r) {
			*why = r == -ETIMEDOUT ?
				"Writes in flight did not end within 30 s: nothing taken" :
				"Interrupted: nothing taken";
			break;
		}
		r = cbt_close_epoch_held(ts[i], &next[i], &epochs[i]);
		if (r) {
			*why = "Cannot close an epoch";
			break;
		}
		closed++;
		/* The closed epochs are frozen: their bits are the set. */
		if (preserve_from[i]) {
			r = cbt_cow_preserve(snap_of(ts[i]), preserve_from[i], epochs[i], why);
			if (r)
				break;
		}
	}
	if (!r) {
		for (i = 0; i < n; i++) {
			struct cbt_snapshot *s = snap_of(ts[i]);

			s->origin_bdev = ts[i]->origin_bdev;
			s->epoch = epochs[i];
			s->taken = ktime_get();
			/*
			 * No write is in flight: the switch is one instant for
			 * all. Release: a write or read that sees ACTIVE sees
			 * the fields above (cbt_snap_state()).
			 */
			smp_store_release(&s->state, CBT_SNAP_ACTIVE);
		}
	}
	/* Lower devices first: the upper ones' released writes then flow. */
	while (held)
		cbt_release_writes(ts[order[--held]]);
	/*
	 * All or nothing: fold back what was closed, only now that nothing is
	 * held. An abort writes metadata, and an upper member's metadata may
	 * sit on a lower member: aborting under the hold would park that
	 * write behind the hold for good. Writes released meanwhile went to
	 * the new open epoch, which the abort merges into anyway.
	 */
	for (i = 0; r && i < closed; i++) {
		struct cbt_tracker *t = ts[order[i]];

		if (cbt_abort_epoch_quiet(t, epochs[order[i]]))
			DMERR("%u:%u: epoch %llu of a failed snapshot stays closed: abort it",
			      MAJOR(t->devt), MINOR(t->devt), epochs[order[i]]);
	}
	memalloc_noio_restore(noio);
	t2 = ktime_get();
thaw:
	for (i = 0; i < frozen; i++)
		cbt_thaw_bdev(disks[i]);
	t3 = ktime_get();
	if (!r) {
		*hold_ns = ktime_to_ns(ktime_sub(t2, t1));
		*freeze_ns = freeze ? ktime_to_ns(ktime_sub(t3, t0)) : 0;
		/*
		 * Status only, so after the thaw. No release can run meanwhile
		 * (it needs the claim), and writes only forfeit chunks outside
		 * the set.
		 */
		for (i = 0; i < n; i++)
			if (preserve_from[i])
				cbt_cow_count_preserved(snap_of(ts[i]));
	}
out:
	/* Nothing held now; a no-op for counts never switched. */
	cbt_writes_percpu(ts, n);
	cbt_unclaim(ts, n);
	if (!r)
		for (i = 0; i < n; i++) {
			cbt_tracker_event(ts[i], CBT_EVENT_EPOCH_CLOSED, epochs[i]);
			cbt_tracker_event(ts[i], CBT_EVENT_SNAPSHOT_TAKEN, epochs[i]);
		}
free:
	for (i = 0; i < n; i++)
		cbt_epoch_discard(next[i]);
	kfree(st);
	return r;
}

int cbt_snap_release(struct cbt_tracker *t, u64 sector, u64 len, const char **why)
{
	struct cbt_snapshot *s;
	u64 first, last;
	int r;

	/*
	 * The claim keeps the snapshot from going away under the release:
	 * per device, so releases of other devices' snapshots never wait
	 * for this one, nor for their takes.
	 */
	r = cbt_claim(&t, 1, true);
	if (r) {
		*why = "Interrupted";
		return r;
	}
	s = snap_of(t);
	r = -ENOENT;
	if (!s) {
		*why = "No snapshot device attached";
		goto out;
	}
	r = -EINVAL;
	if (cbt_snap_state(s) != CBT_SNAP_ACTIVE) {
		*why = "The snapshot is not active (not taken yet, or invalid)";
		goto out;
	}
	if (sector > s->sectors || len > s->sectors - sector) {
		*why = "The range passes the end of the snapshot";
		goto out;
	}
	/* Whole chunks only: a chunk partly outside may still be read. */
	first = DIV_ROUND_UP_ULL(sector, s->chunk_sectors);
	last = sector + len == s->sectors ? s->nr_chunks : (sector + len) >> s->chunk_shift;
	r = 0;
	if (first < last)
		r = cbt_cow_release(s, first, last - 1);
	if (r)
		*why = r == -ENOMEM ? "Out of memory" : "The snapshot became invalid";
out:
	cbt_unclaim(&t, 1);
	return r;
}

int cbt_snap_fill(struct sk_buff *skb, struct cbt_tracker *t)
{
	struct cbt_snapshot *s;
	enum cbt_snap_state state;
	struct nlattr *nest;
	u64 used;
	int r = 0;

	/*
	 * RCU, not the claim: a take may hold it for up to
	 * CBT_DRAIN_TIMEOUT_SECS, and status must answer meanwhile. snap_dtr
	 * waits for a grace period before it frees the snapshot.
	 */
	rcu_read_lock();
	s = rcu_dereference(t->snap);
	if (!s)
		goto out;
	state = cbt_snap_state(s);
	used = cbt_cow_used(s);
	nest = nla_nest_start(skb, CBT_A_SNAPSHOT);
	if (!nest ||
	    nla_put_u32(skb, CBT_A_SNAP_STATE, state) ||
	    nla_put_u32(skb, CBT_A_SNAP_ERROR, -READ_ONCE(s->error)) ||
	    nla_put_u64_64bit(skb, CBT_A_EPOCH_NUMBER, s->epoch, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_AGE_MS, state == CBT_SNAP_PREPARED ? 0 :
			      ktime_ms_delta(ktime_get(), s->taken), CBT_A_PAD) ||
	    nla_put_u32(skb, CBT_A_SNAP_CHUNK_SIZE, s->chunk_sectors << SECTOR_SHIFT) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_COW_USED,
			      (used << s->chunk_shift) << SECTOR_SHIFT, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_COW_TOTAL,
			      (s->cow_chunks << s->chunk_shift) << SECTOR_SHIFT, CBT_A_PAD) ||
	    /* Lost chunks are in ->copied too, so writes pass: not in the store. */
	    nla_put_u64_64bit(skb, CBT_A_SNAP_COPIED, cbt_bitmap_weight(&s->copied) -
			      cbt_bitmap_weight(&s->lost), CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_SECTORS, s->sectors, CBT_A_PAD) ||
	    (s->preserve_from &&
	     nla_put_u64_64bit(skb, CBT_A_SNAP_PRESERVE_FROM, s->preserve_from, CBT_A_PAD)) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_TO_READ, cbt_snap_to_read(s), CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_RELEASED, READ_ONCE(s->nr_released), CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_SNAP_FORFEITED, READ_ONCE(s->nr_forfeited),
			      CBT_A_PAD)) {
		r = -EMSGSIZE;
		goto out;
	}
	nla_nest_end(skb, nest);
out:
	rcu_read_unlock();
	return r;
}
