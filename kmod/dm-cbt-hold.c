// SPDX-License-Identifier: GPL-2.0
/*
 * Holding a tracker's writes for one instant (a snapshot take, an epoch
 * close), and the per-tracker claims that give one task at a time the
 * right to do so. See dm-cbt.h, "Locks".
 */
#include <linux/blkdev.h>
#include <linux/lockdep.h>
#include <linux/sched/mm.h>
#include <linux/wait.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"

/* ---- Claims: one hold of a tracker's writes, or change of its snapshot, at a time ---- */

/*
 * A claim is a per-tracker lock that a task takes for a whole group of
 * trackers at once or for none of them: cbt_claim() sleeps, holding
 * nothing, until every tracker of the group is unclaimed, and then claims
 * them all in one step under cbt_claims_lock. So two claimers never wait
 * for each other in a cycle, whatever the groups, and a claim may be held
 * across I/O (a drain of writes in flight, metadata writes, a freeze):
 * only claimers of the same trackers wait for it. Lockdep sees all claims
 * as one lock (cbt_claim_map): it checks that no claimer waits for
 * another claim, and what is taken inside them.
 */
static DEFINE_SPINLOCK(cbt_claims_lock);	/* protects every tracker's ->claimer */
static DECLARE_WAIT_QUEUE_HEAD(cbt_claims_wq);	/* woken by every cbt_unclaim() */
#ifdef CONFIG_LOCKDEP
static struct lock_class_key cbt_claim_key;
static struct lockdep_map cbt_claim_map = STATIC_LOCKDEP_MAP_INIT("cbt_claim", &cbt_claim_key);
#endif

/* Claim all of @ts, or none if one of them is claimed. */
static bool try_claim(struct cbt_tracker **ts, unsigned int n)
{
	unsigned int i;
	bool free = true;

	spin_lock(&cbt_claims_lock);
	for (i = 0; i < n && free; i++)
		free = !ts[i]->claimer;
	for (i = 0; free && i < n; i++)
		ts[i]->claimer = current;
	spin_unlock(&cbt_claims_lock);
	return free;
}

int cbt_claim(struct cbt_tracker **ts, unsigned int n, bool killable)
{
	might_sleep();
	lock_map_acquire(&cbt_claim_map);
	if (!killable) {
		wait_event(cbt_claims_wq, try_claim(ts, n));
	} else if (wait_event_killable(cbt_claims_wq, try_claim(ts, n))) {
		lock_map_release(&cbt_claim_map);
		return -EINTR;
	}
	return 0;
}

void cbt_unclaim(struct cbt_tracker **ts, unsigned int n)
{
	unsigned int i;

	spin_lock(&cbt_claims_lock);
	for (i = 0; i < n; i++) {
		WARN_ON_ONCE(ts[i]->claimer != current);
		ts[i]->claimer = NULL;
	}
	spin_unlock(&cbt_claims_lock);
	lock_map_release(&cbt_claim_map);
	wake_up_all(&cbt_claims_wq);
}

bool cbt_claimed(struct cbt_tracker *t)
{
	return READ_ONCE(t->claimer) == current;
}

/* ---- Holding writes ---- */

/*
 * Count a write in t->writes, or park it while writes are held. False
 * when it was parked. cbt_count_write() tried the live ref already.
 */
bool cbt_count_write_slow(struct cbt_tracker *t, struct bio *bio)
{
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));
	unsigned long flags;

	while (!percpu_ref_tryget_live(&t->writes)) {
		spin_lock_irqsave(&t->held_lock, flags);
		if (t->holding) {
			bio_list_add(&t->held, bio);
			spin_unlock_irqrestore(&t->held_lock, flags);
			return false;
		}
		spin_unlock_irqrestore(&t->held_lock, flags);
		/* Released between the two checks: the ref is live again. */
	}
	io->counted = true;
	return true;
}

void cbt_writes_atomic(struct cbt_tracker **ts, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		WARN_ON_ONCE(!cbt_claimed(ts[i]));
		percpu_ref_switch_to_atomic(&ts[i]->writes, NULL);
	}
	/* Every switch is under way already: their grace periods overlap. */
	for (i = 0; i < n; i++)
		percpu_ref_switch_to_atomic_sync(&ts[i]->writes);
}

void cbt_writes_percpu(struct cbt_tracker **ts, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		percpu_ref_switch_to_percpu(&ts[i]->writes);
}

void cbt_hold_writes(struct cbt_tracker *t)
{
	unsigned long flags;

	WARN_ON_ONCE(!cbt_claimed(t));

	spin_lock_irqsave(&t->held_lock, flags);
	t->holding = true;
	spin_unlock_irqrestore(&t->held_lock, flags);
	reinit_completion(&t->writes_drained);
	/*
	 * In atomic mode (cbt_writes_atomic()) the kill waits for no grace
	 * period: a write that read the count as live before it is counted
	 * only while the count is not zero (atomic_long_inc_not_zero()), so
	 * the drain waits for it; once the count reached zero no write is
	 * counted until the release. In per-CPU mode the kill's switch
	 * waits for one, and the drain ends after it.
	 */
	percpu_ref_kill(&t->writes);
}

int cbt_wait_writes(struct cbt_tracker *t, unsigned long deadline)
{
	long left = (long)(deadline - jiffies);
	long r;

	/*
	 * A write in flight may never end (a suspended lower device, a
	 * queue_if_no_path multipath): the caller rolls back instead.
	 */
	r = wait_for_completion_killable_timeout(&t->writes_drained, max(left, 1L));
	if (r > 0)
		return 0;
	return r ? -EINTR : -ETIMEDOUT;
}

void cbt_release_writes(struct cbt_tracker *t)
{
	struct bio_list held;
	unsigned long flags;
	struct bio *bio;

	percpu_ref_resurrect(&t->writes);
	spin_lock_irqsave(&t->held_lock, flags);
	t->holding = false;
	held = t->held;
	bio_list_init(&t->held);
	spin_unlock_irqrestore(&t->held_lock, flags);
	while ((bio = bio_list_pop(&held)))
		if (cbt_count_write(t, bio) && cbt_process_write(t, bio) == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
}

/* ---- An epoch closed at one instant ---- */

int cbt_close_epoch(struct cbt_tracker *t, u64 *closed)
{
	struct cbt_epoch *new;
	unsigned int noio;
	int r;

	/* Allocated here, outside t->lock and the hold: reclaim may write. */
	new = cbt_epoch_alloc(t, 0, 0);
	if (!new)
		return -ENOMEM;
	/* One hold at a time per tracker: takes hold under its claim too. */
	r = cbt_claim(&t, 1, true);
	if (r)
		goto out;
	cbt_writes_atomic(&t, 1);
	noio = memalloc_noio_save();
	cbt_hold_writes(t);
	r = cbt_wait_writes(t, jiffies + CBT_DRAIN_TIMEOUT_SECS * HZ);
	if (!r)
		r = cbt_close_epoch_held(t, &new, closed);
	cbt_release_writes(t);
	memalloc_noio_restore(noio);
	cbt_writes_percpu(&t, 1);
	cbt_unclaim(&t, 1);
out:
	cbt_epoch_discard(new);
	if (!r)
		cbt_tracker_event(t, CBT_EVENT_EPOCH_CLOSED, *closed);
	return r;
}
