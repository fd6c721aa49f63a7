// SPDX-License-Identifier: GPL-2.0
/*
 * nbdkit-cbt-plugin: one restore point of a cbt chain as a read-only NBD
 * export (docs/mount.md). `nbdkit cbt chain=DIR [at=N]'. Every read goes
 * through the chain's random-access view (image/view.h), which decompresses
 * only the frames a request touches; a damaged frame fails that request
 * with EIO and is logged, never served as data. `cbt mount', `cbt serve'
 * and `cbt restore --path' start nbdkit with this plugin.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "image/crypt.h"
#include "image/s3chain.h"
#include "image/view.h"
#include "util/util.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* Set while nbdkit reads its configuration, before any thread serves. */
static const char *chain_dir;
static const char *at;
static struct cbt_view_opts view_opts;
/*
 * The point, opened once in .get_ready and shared by every connection:
 * cbt_view_pread() is thread-safe, and one frame cache serves them all.
 */
static struct cbt_view *view;

static void view_log(void *arg, const char *line)
{
	(void)arg;
	nbdkit_error("%s", line);
}

static int cbt_config(const char *key, const char *value)
{
	if (!strcmp(key, "chain")) {
		chain_dir = value;
	} else if (!strcmp(key, "at")) {
		uint64_t n;

		if (cbt_parse_u64(value, &n)) {
			nbdkit_error("at=%s: not an image number", value);
			return -1;
		}
		at = value;
	} else if (!strcmp(key, "key")) {
		/* the key file's path, never the key: argv is visible to others */
		int ret = cbt_key_isset() ? -EINVAL : cbt_key_use(value);

		if (ret) {
			const char *d = cbt_err_detail();

			nbdkit_error("key=%s: %s", value, d ? d : "a second key");
			return -1;
		}
	} else if (!strcmp(key, "s3-config")) {
		view_opts.s3_config = value;
	} else if (!strcmp(key, "cache")) {
		int64_t n = nbdkit_parse_size(value);

		if (n < 0)
			return -1;
		view_opts.cache_bytes = n;
	} else if (!strcmp(key, "check")) {
		int r = nbdkit_parse_bool(value);

		if (r < 0)
			return -1;
		view_opts.full_check = r;
	} else {
		nbdkit_error("unknown parameter `%s' (chain=DIR|s3://BUCKET/PREFIX, at=N, key=FILE,"
			     " s3-config=FILE, cache=SIZE, check=BOOL)",
			     key);
		return -1;
	}
	return 0;
}

static int cbt_config_complete(void)
{
	if (!chain_dir) {
		nbdkit_error("chain=DIR is required");
		return -1;
	}
	return 0;
}

/*
 * Open the point before nbdkit listens: a chain with a missing, broken or
 * foreign image stops the server from starting, so `cbt mount' learns it
 * before anything is attached.
 */
static int cbt_get_ready(void)
{
	int ret;

	cbt_view_set_log(view_log, NULL);
	ret = cbt_view_open(&view, chain_dir, at, &view_opts);
	if (ret) {
		const char *d = cbt_err_detail();

		nbdkit_error("%s: %s", chain_dir, d ? d : strerror(-ret));
		return -1;
	}
	return 0;
}

static void cbt_unload(void)
{
	if (view)
		cbt_view_close(view);
	view = NULL;
	/* the local view of a chain in S3, if chain= named one */
	cbt_s3chain_src_done();
}

static void *cbt_open(int readonly)
{
	(void)readonly;
	return view;
}

static int64_t cbt_get_size(void *handle)
{
	return cbt_view_size(handle);
}

/* Every client may cache: the export never changes while it is served. */
static int cbt_can_multi_conn(void *handle)
{
	(void)handle;
	return 1;
}

static int cbt_can_cache(void *handle)
{
	(void)handle;
	return NBDKIT_CACHE_EMULATE;
}

static int cbt_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
			  uint32_t *maximum)
{
	*minimum = 1;
	*preferred = cbt_view_block_size(handle);
	*maximum = 0xffffffff;
	return 0;
}

static int cbt_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	int ret;

	(void)flags;
	ret = cbt_view_pread(handle, buf, count, offset);
	if (ret < 0) {
		/* whatever went wrong, the client sees an I/O error, never data */
		nbdkit_set_error(EIO);
		return -1;
	}
	return 0;
}

static int add_extent(void *arg, uint64_t off, uint64_t len, bool data)
{
	return nbdkit_add_extent(arg, off, len,
				 data ? 0 : NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) ? -EIO : 0;
}

static int cbt_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
		       struct nbdkit_extents *extents)
{
	(void)flags;
	if (cbt_view_extents(handle, offset, count, add_extent, extents)) {
		nbdkit_set_error(EIO);
		return -1;
	}
	return 0;
}

static int cbt_can_extents(void *handle)
{
	(void)handle;
	return 1;
}

static struct nbdkit_plugin plugin = {
	.name = "cbt",
	.longname = "cbt restore point (dm-cbt chain)",
	.description = "Serves one restore point of a dm-cbt backup chain, read-only.",
	.config = cbt_config,
	.config_complete = cbt_config_complete,
	.config_help = "chain=<DIR>     (required) the chain directory\n"
		       "at=<N>          the image number of the restore point (default: the last)\n"
		       "key=<FILE>      the key file of an encrypted chain\n"
		       "cache=<SIZE>    decompressed-frame cache (default 64M)\n"
		       "check=<BOOL>    read every frame once when starting",
	.magic_config_key = "chain",
	.get_ready = cbt_get_ready,
	.unload = cbt_unload,
	.open = cbt_open,
	.get_size = cbt_get_size,
	.can_multi_conn = cbt_can_multi_conn,
	.can_cache = cbt_can_cache,
	.can_extents = cbt_can_extents,
	.block_size = cbt_block_size,
	.pread = cbt_pread,
	.extents = cbt_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
