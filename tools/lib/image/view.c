// SPDX-License-Identifier: GPL-2.0
/* Random access to a restore point (image/view.h): a stub until the resolver lands. */
#include <errno.h>

#include "image/view.h"

int cbt_view_open(struct cbt_view **vp, const char *chain_dir, const char *id,
		  const struct cbt_view_opts *o)
{
	(void)chain_dir, (void)id, (void)o;
	*vp = NULL;
	return -ENOSYS;
}

uint64_t cbt_view_size(const struct cbt_view *v)
{
	(void)v;
	return 0;
}

uint32_t cbt_view_block_size(const struct cbt_view *v)
{
	(void)v;
	return 0;
}

int cbt_view_pread(struct cbt_view *v, void *buf, size_t len, uint64_t off)
{
	(void)v, (void)buf, (void)len, (void)off;
	return -ENOSYS;
}

int cbt_view_extents(struct cbt_view *v, uint64_t off, uint64_t len,
		     int (*cb)(void *arg, uint64_t off, uint64_t len, bool data), void *arg)
{
	(void)v, (void)off, (void)len, (void)cb, (void)arg;
	return -ENOSYS;
}

int cbt_view_owner(const struct cbt_view *v, uint64_t block)
{
	(void)v, (void)block;
	return -1;
}

void cbt_view_close(struct cbt_view *v)
{
	(void)v;
}

void cbt_view_set_log(void (*log)(void *arg, const char *line), void *arg)
{
	(void)log, (void)arg;
}
