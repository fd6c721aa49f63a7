// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/engine.h"
#include "image/chain.h"
#include "image/crypt.h"
#include "image/s3chain.h"
#include "store/remote.h"
#include "store/segment.h"
#include "store/safefile.h"
#include "util/util.h"
#include "util/version.h"

#define READ_BYTES (4U << 20)
#define ALIGN 4096

/*
 * A chain may follow its device as it grows: restore sizes each point from
 * its own image. Shrinking, or another block size, would leave the parent's
 * blocks unaccounted for, so those need a new full image.
 */
static int check_geometry(const struct cbt_chain *c, uint64_t dev_bytes, uint32_t block_size)
{
	const struct cbt_chain_entry *last = &c->v[c->nr - 1];
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	int ret;

	ret = cbt_chain_read_ends(c, c->nr - 1, &h, &t);
	if (ret)
		return cbt_err_prefix(ret, "reading the chain's last image, %s", last->file);
	cbt_extents_free(&t.map);
	if (h.block_size != block_size) {
		cbt_fail_reason("block-size-changed");
		return cbt_err(-ESTALE, "the device tracks %u-byte blocks, the chain's last image"
			       " %s has %u-byte blocks; a full image is needed (--full, or"
			       " --auto-full)", block_size, last->file, h.block_size);
	}
	if (dev_bytes < h.dev_bytes) {
		cbt_fail_reason("shrunk");
		return cbt_err(-ESTALE, "the device shrank to %s since the chain's last image %s"
			       " (%s); a full image is needed (--full, or --auto-full)",
			       cbt_human_size(dev_bytes, a), last->file,
			       cbt_human_size(h.dev_bytes, b));
	}
	return 0;
}

/*
 * Each refusal names its reason (cbt_fail_reason()) for the JSON error
 * object: identity-changed (cbt backup puts the kernel's identity reason in
 * its place), outside-commit, unknown-image, block-size-changed, shrunk.
 */
/*
 * A chain is all encrypted under one key or all plain (image/crypt.h): the
 * last image's header, decoded under the process key (or none), says whether
 * the image about to be written, full ones included, may join it.
 */
static int check_crypt(const struct cbt_chain *c)
{
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	int ret;

	if (!c->nr)
		return 0;
	ret = cbt_chain_read_ends(c, c->nr - 1, &h, &t);
	if (ret == -ENOKEY || ret == -EKEYREJECTED)
		return cbt_err_prefix(ret, "reading the chain's last image, %s",
				      c->v[c->nr - 1].file);
	/* damage is for an incremental's checks to find: a full image can always be added */
	if (ret)
		cbt_err_clear();
	else
		cbt_extents_free(&t.map);
	return 0;
}

static int check_chain(const struct cbt_chain *c, uint32_t type, const uint8_t dev_uuid[16],
		       uint64_t dev_bytes, uint32_t block_size, uint64_t epoch,
		       uint64_t last_committed)
{
	const struct cbt_chain_entry *last;
	char a[CBT_UUID_STR_LEN], b[CBT_UUID_STR_LEN];

	int ret = check_crypt(c);

	if (ret || type == CBT_IMG_FULL)
		return ret;
	if (!c->nr)
		return cbt_err(-ENOENT, "%s holds no full image yet: take a full backup first"
			       " (--full)", c->dir);
	last = &c->v[c->nr - 1];
	if (memcmp(last->dev_uuid, dev_uuid, 16)) {
		cbt_fail_reason("identity-changed");
		return cbt_err(-ESTALE, "the device's tracking identity is %s, but the chain's"
			       " last image was taken under %s: its change history since then is"
			       " lost (`cbt status' says why); a full image is needed (--full, or"
			       " --auto-full)",
			       cbt_uuid_str(dev_uuid, a), cbt_uuid_str(last->dev_uuid, b));
	}
	/*
	 * Committing an epoch drops its changes. Only this chain's backups
	 * should have committed since its last image; a later commit (a
	 * clone, another chain, `cbt epoch commit') took changes this chain
	 * never saw.
	 */
	if (last_committed > last->epoch_last) {
		cbt_fail_reason("outside-commit");
		return cbt_err(-ESTALE, "epoch %llu was committed after the chain's last image"
			       " (epoch %llu) by another reader of the device's changes (a clone,"
			       " another chain, or `cbt epoch commit'): its changes are not in"
			       " %s; a full image is needed (--full, or --auto-full)",
			       (unsigned long long)last_committed,
			       (unsigned long long)last->epoch_last, c->dir);
	}
	/* Metadata put back from an older copy, or another device's chain under a copied identity. */
	if (epoch <= last->epoch_last) {
		cbt_fail_reason("unknown-image");
		return cbt_err(-ESTALE, "the device's epoch is %llu, but the chain's last image"
			       " already covers epochs up to %llu: the device does not know that"
			       " image; a full image is needed (--full, or --auto-full)",
			       (unsigned long long)epoch, (unsigned long long)last->epoch_last);
	}
	return check_geometry(c, dev_bytes, block_size);
}

int cbt_backup_precheck(const char *dir, uint32_t type, const uint8_t dev_uuid[16],
			uint64_t dev_bytes, uint32_t block_size, uint64_t epoch,
			uint64_t last_committed)
{
	struct cbt_chain c;
	int ret;

	if (!dir)
		return 0;
	ret = cbt_chain_open(&c, dir, type == CBT_IMG_FULL, false);
	if (!ret)
		ret = check_chain(&c, type, dev_uuid, dev_bytes, block_size, epoch, last_committed);
	cbt_chain_close(&c);
	return ret;
}

bool cbt_backup_chain_covers(const char *dir, const uint8_t dev_uuid[16], uint64_t epoch)
{
	struct cbt_chain c;
	bool covers = false;

	if (dir && !cbt_chain_open(&c, dir, false, false)) {
		for (size_t i = 0; i < c.nr && !covers; i++)
			covers = !memcmp(c.v[i].dev_uuid, dev_uuid, 16) && c.v[i].epoch_last >= epoch;
		cbt_chain_close(&c);
	}
	cbt_err_clear();
	return covers;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	for (size_t i = len / 8 * 8; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cbt_err(-errno, "reading the snapshot at byte %llu: %s%s",
				       (unsigned long long)(off + done), strerror(errno),
				       errno == EIO ? " (the snapshot may have become invalid: its"
				       " COW store filled up or failed; see `cbt status')" : "");
		if (!n)
			return cbt_err(-EIO, "reading the snapshot at byte %llu: it ends early",
				       (unsigned long long)(off + done));
		done += (size_t)n;
	}
	return 0;
}

/* Read @list's blocks from @src and add them (or their non-zero ones) to @w. */
static int copy_blocks(const struct cbt_backup_req *req, const struct cbt_img_header *h,
		       int src, const struct cbt_extents *list, bool skip_zero,
		       struct cbt_img_writer *w, struct cbt_backup_result *res)
{
	uint8_t *buf;
	int ret = 0;

	if (posix_memalign((void **)&buf, ALIGN, READ_BYTES))
		return -ENOMEM;
	for (size_t i = 0; i < list->nr && !ret; i++) {
		uint64_t b = list->v[i].start, end = b + list->v[i].len;

		while (b < end && !ret) {
			uint64_t n = end - b, off = b * h->block_size, len = 0;

			if (n > READ_BYTES / h->block_size)
				n = READ_BYTES / h->block_size;
			for (uint64_t k = b; k < b + n; k++)
				len += cbt_img_block_len(h, k);
			if (req->stop && *req->stop) {
				ret = cbt_err(-EINTR, "interrupted by a signal");
				break;
			}
			ret = read_at(src, buf, (size_t)len, off);
			if (!ret && req->release)
				ret = req->release(req->release_ctx, off, len);
			if (ret)
				break;
			res->scanned_bytes += len;
			if (!skip_zero) {
				ret = cbt_img_writer_add(w, b, n, buf);
			} else {
				/* Runs of non-zero blocks. */
				uint64_t k = b, pos = 0;

				while (k < b + n && !ret) {
					uint64_t s = k, spos = pos, l;

					while (k < b + n) {
						l = cbt_img_block_len(h, k);
						if (all_zero(buf + pos, (size_t)l))
							break;
						pos += l;
						k++;
					}
					if (k > s)
						ret = cbt_img_writer_add(w, s, k - s, buf + spos);
					while (k < b + n && !ret) {
						l = cbt_img_block_len(h, k);
						if (!all_zero(buf + pos, (size_t)l))
							break;
						pos += l;
						k++;
					}
				}
			}
			if (req->progress)
				cbt_progress_update(req->progress, res->scanned_bytes);
			b += n;
		}
	}
	free(buf);
	return ret;
}

/* Blocks a differential holds besides the current epoch's: every image since its full. */
static int since_full(const struct cbt_chain *c, const uint8_t base[16], struct cbt_extents *acc)
{
	long f = cbt_chain_find_full(c, base);

	for (size_t i = (size_t)f + 1; f >= 0 && i < c->nr; i++) {
		struct cbt_img_header h;
		struct cbt_img_trailer t;
		struct cbt_extents u;
		int ret;

		if (memcmp(c->v[i].base, base, 16))
			continue;
		ret = cbt_chain_read_ends(c, i, &h, &t);
		if (ret)
			return cbt_err_prefix(ret, "reading the block set of %s", c->v[i].file);
		ret = cbt_extents_union(acc, &t.map, &u);
		cbt_extents_free(&t.map);
		if (ret)
			return ret;
		cbt_extents_free(acc);
		*acc = u;
	}
	return f < 0 ? cbt_err(-ENOENT, "%s: the full image of the chain is missing", c->dir) : 0;
}

/* What an image's bytes depend on, besides its UUID, time and salt: a resumed upload's must match. */
static void upload_what(const struct cbt_img_header *h, char *out, size_t len)
{
	char d[CBT_UUID_STR_LEN], p[CBT_UUID_STR_LEN], b[CBT_UUID_STR_LEN] = "-";
	char k[CBT_KEY_ID_STR_LEN] = "-";

	if (cbt_key_isset())
		cbt_key_id_str(cbt_key_id(), k);
	if (h->type != CBT_IMG_FULL)
		cbt_uuid_str(h->base, b);
	snprintf(out, len, "type %u device %s %llu block %u epochs %llu-%llu parent %s base %s"
		 " compression %u:%u flags %#x version %u tool %s key %s part %u", h->type,
		 cbt_uuid_str(h->dev_uuid, d), (unsigned long long)h->dev_bytes, h->block_size,
		 (unsigned long long)h->epoch_first, (unsigned long long)h->epoch_last,
		 cbt_uuid_str(h->parent, p), b, h->compression, h->level, h->flags, h->version,
		 h->tool_version, k, CBT_REMOTE_PART_SIZE);
}

/*
 * Write image @res->h of blocks @use: to @file in chain @c (an upload when
 * req->remote; resumed when @resume allows and a record matches), or to
 * req->out_fd. CBT_REMOTE_MISMATCH: an upload resumed, but a part differed.
 */
static int write_image(const struct cbt_backup_req *req, struct cbt_chain *c, const char *file,
		       const struct cbt_extents *use, int src, struct cbt_img_write_opts *wo,
		       bool resume, struct cbt_backup_result *res, struct cbt_img_trailer *t)
{
	struct cbt_img_header *h = &res->h;
	struct cbt_tmpfile tf = { .fd = -1, .dfd = -1 };
	struct cbt_seg_writer *sw = NULL;
	struct cbt_remote_writer *rw = NULL;
	struct cbt_img_writer *w = NULL;
	int ret = 0, fd = req->out_fd;

	wo->keep_salt = false;
	if (req->remote) {
		struct cbt_remote_ident id = { .created_ns = h->created_ns };
		char what[512];

		memcpy(id.uuid, h->uuid, 16);
		id.encrypted = cbt_key_isset();
		if (id.encrypted)
			ret = cbt_img_salt(id.salt);
		upload_what(h, what, sizeof(what));
		if (!ret)
			ret = cbt_remote_writer_open(&rw, &req->remote->s3, req->remote->url, file, what,
						     &id, resume, &fd);
		if (ret)
			return ret;
		memcpy(h->uuid, id.uuid, 16);
		if (h->type == CBT_IMG_FULL)
			memcpy(h->base, id.uuid, 16);
		h->created_ns = id.created_ns;
		memcpy(h->salt, id.salt, sizeof(h->salt));
		wo->keep_salt = id.encrypted;
	} else if (req->dir && req->split) {
		ret = cbt_seg_writer_open(&sw, c->dfd, file, res->file, req->split, &fd);
	} else if (req->dir) {
		ret = cbt_tmpfile_create_at(&tf, c->dfd, file, res->file);
		/* The index may have lost a file: never replace an image. */
		tf.noreplace = true;
		fd = tf.fd;
	}
	if (!ret)
		ret = cbt_img_writer_open(&w, fd, h, wo);
	if (!ret)
		ret = copy_blocks(req, h, src, use, h->type == CBT_IMG_FULL &&
				  req->full_mode != CBT_FULL_ALL, w, res);
	if (!ret)
		ret = cbt_img_writer_finish(w, t);
	if (!ret && rw) {
		ret = cbt_remote_writer_finish(rw, c->dfd);
		rw = NULL;
	} else if (!ret && sw) {
		ret = cbt_seg_writer_finish(sw);
		sw = NULL;
	} else if (!ret && req->dir) {
		ret = cbt_tmpfile_commit(&tf);
	}
	if (tf.fd >= 0)
		cbt_tmpfile_abort(&tf);
	cbt_img_writer_free(w);
	cbt_seg_writer_abort(sw);
	cbt_remote_writer_abort(rw);
	if (ret)
		cbt_extents_free(&t->map);
	return ret;
}

int cbt_backup_run(const struct cbt_backup_req *req, int src, struct cbt_backup_result *res)
{
	struct cbt_chain c = { .lock_fd = -1 };
	struct cbt_chain_entry e;
	struct cbt_img_header *h = &res->h;
	struct cbt_img_trailer t;
	struct cbt_extents list, all;
	struct cbt_img_write_opts wo = { .threads = req->threads, .version = req->format_version };
	const struct cbt_extents *use;
	uint32_t type = req->type;
	int ret;

	memset(res, 0, sizeof(*res));
	memset(&t, 0, sizeof(t));
	cbt_extents_init(&list);
	cbt_extents_init(&all);
	memset(h, 0, sizeof(*h));
	h->version = req->format_version ? req->format_version : CBT_IMG_VERSION;
	memcpy(h->dev_uuid, req->dev_uuid, 16);
	h->dev_bytes = req->dev_bytes;
	h->block_size = req->block_size;
	h->compression = req->compression;
	h->level = req->level;
	h->created_ns = cbt_real_ns();
	snprintf(h->tool_version, sizeof(h->tool_version), "%s", CBT_VERSION);
	ret = cbt_uuid_generate(h->uuid);
	if (ret)
		return ret;
#ifdef CBT_TEST_HOOKS
	/*
	 * CBT_TEST_IMAGE_ID=HEX:NS (test builds; an upload record's uuid and
	 * created fields): the image another run wrote, written again.
	 */
	{
		const char *fix = getenv("CBT_TEST_IMAGE_ID");
		int used = 0;

		if (fix && strlen(fix) < 34)
			return cbt_err(-EINVAL, "CBT_TEST_IMAGE_ID=%s: want HEX:NS", fix);
		for (int i = 0; fix && i < 16; i++)
			if (sscanf(fix + 2 * i, "%2hhx", &h->uuid[i]) != 1)
				return cbt_err(-EINVAL, "CBT_TEST_IMAGE_ID=%s: bad UUID", fix);
		if (fix && (sscanf(fix + 32, ":%" SCNu64 "%n", &h->created_ns, &used) != 1 ||
			    fix[32 + used]))
			return cbt_err(-EINVAL, "CBT_TEST_IMAGE_ID=%s: want HEX:NS", fix);
	}
#endif
	if (!h->dev_bytes || h->dev_bytes > CBT_IMG_MAX_DEV_BYTES)
		return cbt_err(-EFBIG, "a device of %llu bytes: images describe devices of up to"
			       " 128 PiB", (unsigned long long)h->dev_bytes);

	if (req->dir) {
		ret = cbt_chain_open(&c, req->dir, type == CBT_IMG_FULL, true);
		if (!ret)
			ret = check_chain(&c, type, req->dev_uuid, req->dev_bytes,
					  req->block_size, req->epoch, req->last_committed);
		/* The chain's history is lost: a full image starts it again, in the same directory. */
		if (ret == -ESTALE && req->auto_full) {
			cbt_err_clear();
			type = CBT_IMG_FULL;
			ret = 0;
		}
		if (ret)
			goto out;
		cbt_chain_remove_partials(&c);
	} else if (type != CBT_IMG_FULL) {
		ret = cbt_err(-EINVAL, "incremental and differential images need the chain"
			      " directory (--to DIR) to find their parent");
		goto out;
	}

	if (type == CBT_IMG_FULL) {
		memcpy(h->base, h->uuid, 16);
		h->epoch_first = 0;
		h->epoch_last = req->epoch;
	} else {
		const struct cbt_chain_entry *last = &c.v[c.nr - 1];
		long full = cbt_chain_find_full(&c, last->base);

		memcpy(h->base, last->base, 16);
		if (type == CBT_IMG_INCREMENTAL) {
			memcpy(h->parent, last->uuid, 16);
			h->epoch_first = last->epoch_last + 1;
		} else {
			if (full < 0) {
				ret = cbt_err(-ENOENT, "%s: the full image the chain builds on is"
					      " missing; take a full backup (--full)", req->dir);
				goto out;
			}
			memcpy(h->parent, c.v[full].uuid, 16);
			h->epoch_first = c.v[full].epoch_last + 1;
		}
		h->epoch_last = req->epoch;
	}
	h->type = type;

	/* The blocks to read. */
	if (type == CBT_IMG_FULL) {
		if (req->full_mode == CBT_FULL_FS && req->fs_used) {
			use = req->fs_used;
			h->flags = CBT_IMG_F_FS_USED | CBT_IMG_F_NONZERO;
		} else {
			ret = cbt_extents_append(&list, 0, cbt_img_nr_blocks(h));
			use = &list;
			h->flags = req->full_mode == CBT_FULL_ALL ? CBT_IMG_F_ALL_BLOCKS :
				   CBT_IMG_F_NONZERO;
		}
	} else if (type == CBT_IMG_DIFFERENTIAL) {
		ret = since_full(&c, h->base, &all);
		if (!ret)
			ret = cbt_extents_union(&all, req->changed, &list);
		use = &list;
	} else {
		use = req->changed;
	}
	if (ret)
		goto out;
	if (use->nr && cbt_extents_end(use) > cbt_img_nr_blocks(h)) {
		ret = cbt_err(-EINVAL, "changed blocks past the device end");
		goto out;
	}

	if (req->dir) {
		cbt_chain_next_name(&c, type, &e);
		snprintf(res->file, sizeof(res->file), "%s/%s", req->remote ? req->remote->url : req->dir,
			 e.file);
	}
	if (req->progress) {
		req->progress->total = 0;
		for (size_t i = 0; i < use->nr; i++)
			req->progress->total += use->v[i].len * h->block_size;
		if (req->progress->total > h->dev_bytes)
			req->progress->total = h->dev_bytes;
	}
	for (int pass = 0;; pass++) {
		ret = write_image(req, &c, e.file, use, src, &wo, pass == 0, res, &t);
		if (ret != CBT_REMOTE_MISMATCH)
			break;
		/* A snapshot that forgets what was read cannot give the same bytes again. */
		if (pass || req->release) {
			ret = cbt_err(-EIO, "%s: %s; the upload was aborted: run the backup again",
				      res->file, cbt_err_detail() ? cbt_err_detail() : "a part differed");
			break;
		}
		fprintf(stderr, "cbt: %s; writing the image again as a new one (new UUID%s)\n",
			cbt_err_detail() ? cbt_err_detail() : "a part differed",
			cbt_key_isset() ? " and salt" : "");
		cbt_err_clear();
		ret = cbt_uuid_generate(h->uuid);
		if (ret)
			break;
		if (type == CBT_IMG_FULL)
			memcpy(h->base, h->uuid, 16);
		h->created_ns = cbt_real_ns();
		res->scanned_bytes = 0;
	}
	if (ret)
		goto out;
	res->blocks = t.blocks;
	res->stored_bytes = t.stored_bytes;
	for (size_t i = 0; i < t.map.nr; i++)
		for (uint64_t b = t.map.v[i].start; b < t.map.v[i].start + t.map.v[i].len; b++)
			res->logical_bytes += cbt_img_block_len(h, b);
	if (req->dir) {
		memcpy(e.uuid, h->uuid, 16);
		memcpy(e.parent, h->parent, 16);
		memcpy(e.base, h->base, 16);
		memcpy(e.dev_uuid, h->dev_uuid, 16);
		e.epoch_first = h->epoch_first;
		e.epoch_last = h->epoch_last;
		ret = cbt_chain_add(&c, &e);
		if (ret)
			cbt_store_unlink(c.dfd, e.file);
		/* The image is durable in S3: only now may the index name it. */
		if (!ret && req->remote)
			ret = cbt_s3chain_put_index(req->remote);
		if (!ret && req->remote)
			cbt_remote_forget(&req->remote->s3, req->remote->url, e.file);
	}
out:
	cbt_extents_free(&t.map);
	cbt_extents_free(&list);
	cbt_extents_free(&all);
	cbt_chain_close(&c);
	return ret;
}
