// SPDX-License-Identifier: GPL-2.0
/*
 * cbt merge: fold a run of a chain's images into one (merge.h). Each block
 * of the merged image comes from the newest image of the run that holds
 * it: every image's "own" blocks (its block map minus those of the newer
 * images of the run) are read from it, all images streamed at once in
 * block order, one frame of each in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/merge.h"
#include "store/safefile.h"
#include "store/segment.h"
#include "util/util.h"
#include "util/version.h"

/* One absorbed image being read. */
struct src {
	int fd;
	struct cbt_img_reader *r;
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	struct cbt_img_frame f;
	uint64_t *off;		/* byte offset in f.data of each extent of f */
	size_t cap;
	bool have;
};

/* A run of blocks the merged image takes from one source. */
struct piece {
	uint64_t start, len;
	size_t src;
};

/* @a minus @b, both sorted and coalesced, into @out (initialised here). */
static int extents_subtract(const struct cbt_extents *a, const struct cbt_extents *b,
			    struct cbt_extents *out)
{
	size_t j = 0;
	int ret = 0;

	cbt_extents_init(out);
	for (size_t i = 0; i < a->nr && !ret; i++) {
		uint64_t s = a->v[i].start, e = s + a->v[i].len;

		while (j < b->nr && b->v[j].start + b->v[j].len <= s)
			j++;
		for (size_t k = j; k < b->nr && b->v[k].start < e && s < e; k++) {
			uint64_t bs = b->v[k].start, be = bs + b->v[k].len;

			if (bs > s)
				ret = cbt_extents_append(out, s, bs - s);
			if (be > s)
				s = be;
			if (ret)
				break;
		}
		if (!ret && s < e)
			ret = cbt_extents_append(out, s, e - s);
	}
	if (ret)
		cbt_extents_free(out);
	return ret;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int cbt_merge_check(const struct cbt_chain *c, size_t from, size_t upto)
{
	size_t *path, n, k;
	int ret;

	if (from >= upto)
		return cbt_err(-EINVAL, "%s: nothing to merge: the first image must be older than"
			       " the last", c->dir);
	path = calloc(c->nr, sizeof(*path));
	if (!path)
		return -ENOMEM;
	ret = cbt_chain_resolve(c, upto, path, &n);
	for (k = 0; !ret && k < n && path[k] != from; k++)
		;
	if (!ret && k == n)
		ret = cbt_err(-EINVAL, "%s: %s is not on the restore path of %s (its images"
			      " are the ones `cbt info' shows as its parents)", c->dir,
			      c->v[from].file, c->v[upto].file);
	/* Only UPTO keeps its UUID: nothing outside the run may name another of them. */
	for (size_t a = 1; !ret && a <= k; a++) {
		for (size_t i = 0; i < c->nr; i++) {
			bool in_run = false;

			for (size_t b = 0; b <= k; b++)
				in_run |= path[b] == i;
			if (in_run || c->v[i].type == CBT_IMG_FULL ||
			    memcmp(c->v[i].parent, c->v[path[a]].uuid, 16))
				continue;
			ret = cbt_err(-EINVAL, "%s: %s builds on %s, which the merge would absorb"
				      " (merge %s into it first, or remove it)", c->dir,
				      c->v[i].file, c->v[path[a]].file, c->v[i].file);
			break;
		}
	}
	free(path);
	return ret;
}

/* Make @s's current frame hold block @b (frames come in block order): 0, or -errno. */
static int seek_block(struct src *s, uint64_t b, const char *name, size_t *ext)
{
	for (;;) {
		if (s->have) {
			const struct cbt_img_frame *f = &s->f;

			for (size_t i = 0; i < f->nr; i++) {
				if (b >= f->ext[i].start && b < f->ext[i].start + f->ext[i].len) {
					*ext = i;
					return 0;
				}
			}
		}
		int ret = cbt_img_next(s->r, &s->f);

		if (ret < 0)
			return ret;
		if (!ret)
			return cbt_err(-EBADMSG, "%s ended before block %llu of its block map",
				       name, (unsigned long long)b);
		if (s->f.nr > s->cap) {
			uint64_t *o = realloc(s->off, s->f.nr * sizeof(*o));

			if (!o)
				return -ENOMEM;
			s->off = o;
			s->cap = s->f.nr;
		}
		uint64_t off = 0;

		for (size_t i = 0; i < s->f.nr; i++) {
			s->off[i] = off;
			for (uint64_t k = 0; k < s->f.ext[i].len; k++)
				off += cbt_img_block_len(&s->h, s->f.ext[i].start + k);
		}
		s->have = true;
	}
}

/*
 * Write the pieces into @w in block order. A block of an older, smaller
 * device that was its short last block is padded with zeros to the merged
 * device's block length (restore zeroes the same bytes).
 */
static int copy_pieces(struct src *srcs, char **names, const struct piece *p, size_t np,
		       const struct cbt_img_header *h, struct cbt_img_writer *w)
{
	uint8_t *buf = malloc(CBT_IMG_FRAME_BYTES);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < np && !ret; i++) {
		struct src *s = &srcs[p[i].src];
		uint64_t b = p[i].start, end = p[i].start + p[i].len;

		while (b < end && !ret) {
			size_t e = 0, len = 0;
			uint64_t n = 0;

			ret = seek_block(s, b, names[p[i].src], &e);
			if (ret)
				break;
			uint64_t ext_end = s->f.ext[e].start + s->f.ext[e].len;
			const uint8_t *d = s->f.data + s->off[e] +
					   (b - s->f.ext[e].start) * s->h.block_size;

			while (b + n < end && b + n < ext_end &&
			       len + h->block_size <= CBT_IMG_FRAME_BYTES) {
				uint64_t have = cbt_img_block_len(&s->h, b + n);
				uint64_t want = cbt_img_block_len(h, b + n);

				memcpy(buf + len, d, have);
				memset(buf + len + have, 0, want - have);
				d += have;
				len += want;
				n++;
			}
			ret = cbt_img_writer_add(w, b, n, buf);
			b += n;
		}
	}
	free(buf);
	return ret;
}

#ifdef CBT_TEST_HOOKS
/* CBT_MERGE_FAIL_AT=N: die (as a crash would) after step N of the commit. */
static void crash_point(int step)
{
	const char *v = getenv("CBT_MERGE_FAIL_AT");

	if (v && atoi(v) == step)
		_exit(99);
}
#else
static void crash_point(int step)
{
	(void)step;
}
#endif

/* Read the temporary image back: every checksum, and the block set expected. */
static int check_written(const struct cbt_chain *c, const struct cbt_tmpfile *tf,
			 const struct cbt_img_header *h, const struct cbt_extents *want)
{
	struct cbt_img_header got;
	struct cbt_img_trailer t;
	int fd = openat(c->dfd, tf->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return cbt_err(-errno, "%s: reading back %s: %s", c->dir, tf->tmp,
			       strerror(errno));
	ret = cbt_img_verify_fd(fd, tf->shown, &got, &t);
	close(fd);
	if (ret)
		return cbt_err_prefix(ret, "the merged image does not verify");
	if (memcmp(got.uuid, h->uuid, 16) || t.map.nr != want->nr ||
	    memcmp(t.map.v, want->v, want->nr * sizeof(*want->v)))
		ret = cbt_err(-EBADMSG, "%s: the merged image does not hold the blocks of the"
			      " images it replaces", tf->shown);
	cbt_extents_free(&t.map);
	return ret;
}

/*
 * The merged image's file: UPTO's number and the merged type, "NNNNNN-TYPE.cbti",
 * or "NNNNNN-mTYPE.cbti" when that is UPTO's own file (merging incrementals into
 * an incremental): it must not replace a file the index still names.
 */
static void name_file(uint64_t seq, uint32_t type, const char *upto_file, char *file)
{
	static const char *const names[] = { "", "full", "incr", "diff" };

	snprintf(file, CBT_CHAIN_FILE_MAX, "%06llu-%s.cbti", (unsigned long long)seq, names[type]);
	if (!strcmp(file, upto_file))
		snprintf(file, CBT_CHAIN_FILE_MAX, "%06llu-m%s.cbti", (unsigned long long)seq,
			 names[type]);
}

int cbt_chain_merge(struct cbt_chain *c, size_t from, size_t upto,
		    const struct cbt_merge_opts *o, struct cbt_merge_result *res)
{
	struct cbt_img_write_opts wo = { .threads = o->threads };
	struct cbt_tmpfile tf = { .fd = -1, .dfd = -1 };
	struct cbt_img_writer *w = NULL;
	struct cbt_img_trailer t = { 0 };
	struct cbt_extents newer, all;
	struct cbt_img_header h;
	struct cbt_chain_entry e, *v = NULL;
	struct piece *pieces = NULL;
	struct src *srcs = NULL;
	char **names = NULL;
	size_t *path = NULL, n = 0, k, np = 0, nv = 0;
	char shown[4096];
	int ret;

	memset(res, 0, sizeof(*res));
	cbt_extents_init(&newer);
	cbt_extents_init(&all);
	ret = cbt_merge_check(c, from, upto);
	if (ret)
		return ret;
	path = calloc(c->nr, sizeof(*path));
	if (!path)
		return -ENOMEM;
	ret = cbt_chain_resolve(c, upto, path, &n);
	if (ret)
		goto out;
	for (k = 0; path[k] != from; k++)
		;
	n = k + 1;	/* path[0] = upto ... path[k] = from, newest first */
	srcs = calloc(n, sizeof(*srcs));
	names = calloc(n, sizeof(*names));
	if (!srcs || !names) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		srcs[i].fd = -1;
	cbt_chain_remove_partials(c);
	cbt_chain_remove_orphans(c);

	/* Each image's own blocks: its map minus the newer images' of the run. */
	for (size_t i = 0; i < n; i++) {
		struct cbt_extents own, u;

		names[i] = malloc(4096);
		if (!names[i]) {
			ret = -ENOMEM;
			goto out;
		}
		ret = cbt_chain_path(c, path[i], names[i], 4096);
		if (!ret)
			ret = cbt_chain_read_ends(c, path[i], &srcs[i].h, &srcs[i].t);
		if (!ret && i)
			ret = cbt_img_check_link(&srcs[i - 1].h, &srcs[i].h, names[i - 1],
						 names[i]);
		if (ret)
			goto out;
		ret = extents_subtract(&srcs[i].t.map, &newer, &own);
		if (ret)
			goto out;
		struct piece *np2 = realloc(pieces, (np + own.nr + 1) * sizeof(*pieces));

		if (!np2) {
			cbt_extents_free(&own);
			ret = -ENOMEM;
			goto out;
		}
		pieces = np2;
		for (size_t x = 0; x < own.nr; x++)
			pieces[np++] = (struct piece){ own.v[x].start, own.v[x].len, i };
		cbt_extents_free(&own);
		ret = cbt_extents_union(&newer, &srcs[i].t.map, &u);
		if (ret)
			goto out;
		cbt_extents_free(&newer);
		newer = u;
	}
	qsort(pieces, np, sizeof(*pieces), cmp_piece);
	all = newer;
	cbt_extents_init(&newer);

	/* The merged header: UPTO's identity and point in time, FROM's parent. */
	h = srcs[0].h;
	h.version = CBT_IMG_VERSION;
	h.type = srcs[k].h.type;
	memcpy(h.parent, srcs[k].h.parent, 16);
	h.epoch_first = srcs[k].h.epoch_first;
	h.flags = (h.type == CBT_IMG_FULL ? srcs[k].h.flags : 0) | CBT_IMG_F_MERGED;
	if (!o->keep_compression) {
		h.compression = o->compression;
		h.level = o->level;
	}
	memset(h.tool_version, 0, sizeof(h.tool_version));
	snprintf(h.tool_version, sizeof(h.tool_version), "%s", CBT_VERSION);

	memset(&e, 0, sizeof(e));
	e.seq = c->v[upto].seq;
	e.type = h.type;
	name_file(e.seq, e.type, c->v[upto].file, e.file);
	/* A file by that name is not in the index: one a merge that died left. */
	snprintf(shown, sizeof(shown), "%s/%s", c->dir, e.file);
	ret = cbt_tmpfile_create_at(&tf, c->dfd, e.file, shown);
	if (ret)
		goto out;
	for (size_t i = 0; i < n; i++) {
		srcs[i].fd = cbt_chain_open_image(c, path[i]);
		if (srcs[i].fd < 0) {
			ret = srcs[i].fd;
			goto out;
		}
		ret = cbt_img_reader_open(&srcs[i].r, srcs[i].fd, names[i]);
		if (ret)
			goto out;
	}
	ret = cbt_img_writer_open(&w, tf.fd, &h, &wo);
	if (!ret)
		ret = copy_pieces(srcs, names, pieces, np, &h, w);
	if (!ret)
		ret = cbt_img_writer_finish(w, &t);
	if (!ret && fsync(tf.fd))
		ret = cbt_err(-errno, "%s: %s", shown, strerror(errno));
	if (!ret)
		ret = check_written(c, &tf, &h, &all);
	if (ret)
		goto out;
	crash_point(1);
	ret = cbt_tmpfile_commit(&tf);
	if (ret)
		goto out;
	/* a chain in S3: the merged image is stored before the index names it */
	if (c->remote) {
		ret = c->remote->put_image(c->remote->arg, c->dfd, e.file);
		if (ret) {
			unlinkat(c->dfd, e.file, 0);
			goto out;
		}
	}
	crash_point(2);

	/* The new index: the run's entries replaced by the merged one, at UPTO's place. */
	memcpy(e.uuid, h.uuid, 16);
	memcpy(e.parent, h.parent, 16);
	memcpy(e.base, h.base, 16);
	memcpy(e.dev_uuid, h.dev_uuid, 16);
	e.epoch_first = h.epoch_first;
	e.epoch_last = h.epoch_last;
	v = calloc(c->nr, sizeof(*v));
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->nr; i++) {
		bool absorbed = false;

		for (size_t a = 0; a < n; a++)
			absorbed |= path[a] == i;
		if (i == upto)
			v[nv++] = e;
		else if (!absorbed)
			v[nv++] = c->v[i];
	}
	for (size_t a = 0; a < n; a++) {
		struct cbt_store_obj o;
		struct stat st;

		/* By name: a split image's segments count, not its manifest. */
		int r = cbt_store_obj_open(c->dfd, c->v[path[a]].file, names[a], true, &o);

		if (r == 1) {
			res->freed_bytes += o.size;
			cbt_store_obj_close(&o);
		} else if (!r && !fstatat(c->dfd, c->v[path[a]].file, &st, AT_SYMLINK_NOFOLLOW)) {
			res->freed_bytes += (uint64_t)st.st_size;
		}
	}
	ret = cbt_chain_rewrite(c, v, nv);
	if (ret) {
		unlinkat(c->dfd, e.file, 0);
		goto out;
	}
	crash_point(3);
	cbt_chain_remove_orphans(c);

	snprintf(res->file, sizeof(res->file), "%s", e.file);
	res->type = h.type;
	res->absorbed = n;
	res->blocks = t.blocks;
	res->stored_bytes = t.stored_bytes;
	res->freed_bytes = res->freed_bytes > t.stored_bytes ? res->freed_bytes - t.stored_bytes : 0;
out:
	if (tf.fd >= 0)
		cbt_tmpfile_abort(&tf);
	cbt_img_writer_free(w);
	cbt_extents_free(&t.map);
	for (size_t i = 0; srcs && i < n; i++) {
		cbt_img_reader_free(srcs[i].r);
		if (srcs[i].fd >= 0)
			close(srcs[i].fd);
		cbt_extents_free(&srcs[i].t.map);
		free(srcs[i].off);
		if (names)
			free(names[i]);
	}
	free(srcs);
	free(names);
	free(pieces);
	free(path);
	free(v);
	cbt_extents_free(&newer);
	cbt_extents_free(&all);
	return ret;
}
