// SPDX-License-Identifier: GPL-2.0
/*
 * The hold of cbt clone --throttle (clone/throttle.h). The copy decides
 * when to hold (clone/run.c); this thread only ends each hold on time,
 * whatever the copy is doing: if the copy's own reads waited on the held
 * device, a release left to the copy would never come.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clone/throttle.h"
#include "kernel/dmops.h"
#include "util/util.h"

struct clone_throttle {
	char *name;
	pthread_t tid;
	/* protects everything below, and the suspend and resume of the device */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a hold began, or quit (CLOCK_MONOTONIC) */
	bool held, quit;
	uint64_t since_ns, until_ns;
	uint64_t held_ns, holds;	/* since the last clone_throttle_release() */
	int err;		/* a resume that failed, for the next call */
	char detail[512];
};

static void resume_locked(struct clone_throttle *t)
{
	int ret = cbt_dm_resume(t->name);

	t->held = false;
	t->held_ns += cbt_mono_ns() - t->since_ns;
	if (ret && !t->err) {
		t->err = ret;
		snprintf(t->detail, sizeof(t->detail), "%s", cbt_err_detail() ? cbt_err_detail() : "");
	}
	cbt_err_clear();
}

static void *releaser(void *arg)
{
	struct clone_throttle *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->quit) {
		if (!t->held) {
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		if (cbt_mono_ns() >= t->until_ns) {
			resume_locked(t);
			continue;
		}
		struct timespec ts = { .tv_sec = (time_t)(t->until_ns / 1000000000ULL),
				       .tv_nsec = (long)(t->until_ns % 1000000000ULL) };

		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	if (t->held)
		resume_locked(t);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int clone_throttle_start(struct clone_throttle **tp, const char *name)
{
	struct clone_throttle *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int e;

	*tp = NULL;
	if (!t || !(t->name = strdup(name))) {
		free(t);
		return -ENOMEM;
	}
	/*
	 * While DEVICE is held, a page of this process that had to be read
	 * back from DEVICE (the root filesystem's cbt, where cbt itself and
	 * its libraries live) would wait for the resume that only this
	 * process can give: keep every page resident.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		e = errno;
		free(t->name);
		free(t);
		return cbt_err(-e, "--throttle: locking the process in memory (mlockall), which a"
			       " hold of the device cbt itself may live on needs: %s", strerror(e));
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	e = pthread_create(&t->tid, NULL, releaser, t);
	if (e) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t->name);
		free(t);
		return cbt_err(-e, "--throttle: starting its thread: %s", strerror(e));
	}
	*tp = t;
	return 0;
}

/* The failure of a resume, once; with t->lock held. */
static int take_err(struct clone_throttle *t)
{
	int ret = t->err;

	if (!ret)
		return 0;
	t->err = 0;
	return cbt_err(ret, "--throttle: %s; %s stays suspended until `dmsetup resume %s'",
		       t->detail[0] ? t->detail : strerror(-ret), t->name, t->name);
}

int clone_throttle_hold(struct clone_throttle *t, uint64_t until_ns)
{
	int ret;

	pthread_mutex_lock(&t->lock);
	ret = take_err(t);
	if (!ret && t->held && until_ns > t->until_ns) {
		/* still ahead: no window for the writers before the next check */
		t->until_ns = until_ns;
		pthread_cond_signal(&t->cond);
	} else if (!ret && !t->held) {
		ret = cbt_dm_hold(t->name);
		if (ret) {
			cbt_err_prefix(ret, "--throttle");
		} else {
			t->held = true;
			t->since_ns = cbt_mono_ns();
			t->until_ns = until_ns;
			t->holds++;
			pthread_cond_signal(&t->cond);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int clone_throttle_release(struct clone_throttle *t, uint64_t *ns, uint64_t *holds)
{
	int ret;

	*ns = *holds = 0;
	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	if (t->held)
		resume_locked(t);
	ret = take_err(t);
	*ns = t->held_ns;
	*holds = t->holds;
	t->held_ns = t->holds = 0;
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void clone_throttle_free(struct clone_throttle *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->tid, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t->name);
	free(t);
}
