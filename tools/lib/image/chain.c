// SPDX-License-Identifier: GPL-2.0
/*
 * Chain directories: the index, file names, link checks. The index,
 * DIR/chain.idx, is text, one image per line after a version line:
 *
 *   cbt-chain 1
 *   SEQ TYPE UUID PARENT BASE DEVICE-UUID EPOCH-FIRST EPOCH-LAST FILE
 *
 * with TYPE full|incremental|differential and PARENT "-" for a full image.
 * It is rewritten whole (temporary file, fsync, rename) after each image.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/chain.h"
#include "image/crypt.h"
#include "image/stored.h"
#include "store/safefile.h"
#include "store/segment.h"
#include "util/util.h"

#define INDEX_VERSION_LINE "cbt-chain 1"

static int parse_line(char *line, struct cbt_chain_entry *e)
{
	char type[16], uuid[40], parent[40], base[40], dev[40];
	int n = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%" SCNu64 " %15s %39s %39s %39s %39s %" SCNu64 " %" SCNu64 " %63s %n",
		   &e->seq, type, uuid, parent, base, dev, &e->epoch_first, &e->epoch_last,
		   e->file, &n) != 9 || line[n])
		return -EINVAL;
	/* The next image's number must not wrap (to 0, which no index accepts after it). */
	if (e->seq == UINT64_MAX)
		return -EINVAL;
	if (!strcmp(type, "full"))
		e->type = CBT_IMG_FULL;
	else if (!strcmp(type, "incremental"))
		e->type = CBT_IMG_INCREMENTAL;
	else if (!strcmp(type, "differential"))
		e->type = CBT_IMG_DIFFERENTIAL;
	else
		return -EINVAL;
	if (cbt_uuid_parse(uuid, e->uuid) || cbt_uuid_parse(base, e->base) ||
	    cbt_uuid_parse(dev, e->dev_uuid) ||
	    (strcmp(parent, "-") ? cbt_uuid_parse(parent, e->parent) : e->type != CBT_IMG_FULL) ||
	    strchr(e->file, '/') || e->file[0] == '.')
		return -EINVAL;
	return 0;
}

/* The highest NNNNNN of the NNNNNN-*.cbti files in directory @dfd, 0 if none. */
static uint64_t highest_seq(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	uint64_t max = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		uint64_t v;
		int n = 0;

		if (sscanf(de->d_name, "%" SCNu64 "-%*[a-z].cbti%n", &v, &n) == 1 &&
		    !de->d_name[n] && v > max && v < UINT64_MAX)
			max = v;
	}
	closedir(d);
	return max;
}

int cbt_chain_parse(struct cbt_chain *c, FILE *f, const char *path, bool create)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = 0;

	while (getline(&line, &cap, f) > 0) {
		struct cbt_chain_entry e, *v;

		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (lineno == 1) {
			if (strcmp(line, INDEX_VERSION_LINE)) {
				ret = cbt_err(-EBADMSG, "%s: not a version 1 chain index", path);
				break;
			}
			continue;
		}
		if (parse_line(line, &e) || (c->nr && e.seq <= c->v[c->nr - 1].seq)) {
			ret = cbt_err(-EBADMSG, "%s:%u: bad line `%s'", path, lineno, line);
			break;
		}
		v = realloc(c->v, (c->nr + 1) * sizeof(*v));
		if (!v) {
			ret = -ENOMEM;
			break;
		}
		c->v = v;
		c->v[c->nr++] = e;
	}
	/*
	 * An empty index (truncated outside the tool) lists nothing to build on,
	 * but a new full image may start over (numbered past the files there).
	 */
	if (!ret && lineno == 0 && !create)
		ret = cbt_err(-EBADMSG, "%s is empty (a full backup, --full, starts the chain"
			      " again)", path);
	free(line);
	return ret;
}

int cbt_chain_open(struct cbt_chain *c, const char *dir, bool create, bool lock)
{
	char path[4096];
	FILE *f;
	int ret, fd;

	memset(c, 0, sizeof(*c));
	c->lock_fd = -1;
	c->dfd = -1;
	ret = cbt_key_check_dir(dir);
	if (ret)
		return ret;
	if (!create && access(dir, F_OK))
		return cbt_err(-ENOENT, "%s does not exist (a chain starts with a full backup:"
			       " take a full backup first, --full)", dir);
	c->dir = strdup(dir);
	if (!c->dir)
		return -ENOMEM;
	/* Every file below is opened relative to this fd: the path is resolved once. */
	if (create || lock)
		c->dfd = cbt_dir_open_private(dir, create);
	else
		c->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dfd < 0 && !(create || lock))
		return errno == ENOTDIR ? cbt_err(-ENOTDIR, "%s is not a chain directory", dir) :
					  cbt_err(-errno, "%s: %s", dir, strerror(errno));
	if (c->dfd < 0)
		return c->dfd;
	if (lock) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/.lock", dir);
		c->lock_fd = openat(c->dfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
				    O_CLOEXEC, 0600);
		if (c->lock_fd < 0)
			return cbt_err(-errno, "%s: %s%s", path, strerror(errno),
				       errno == ELOOP ? " (a symbolic link: remove it)" : "");
		if (fstat(c->lock_fd, &st) || !S_ISREG(st.st_mode))
			return cbt_err(-EINVAL, "%s is not a regular file: remove it", path);
		if (flock(c->lock_fd, LOCK_EX | LOCK_NB))
			return cbt_err(-EBUSY, "%s: another cbt is writing to this chain", dir);
	}
	snprintf(path, sizeof(path), "%s/" CBT_CHAIN_INDEX, dir);
	fd = cbt_open_regular(c->dfd, CBT_CHAIN_INDEX, path, true);
	if (fd == -ENOENT) {
		cbt_err_clear();
		return 0;
	}
	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	ret = cbt_chain_parse(c, f, path, create);
	fclose(f);
	return ret;
}

void cbt_chain_close(struct cbt_chain *c)
{
	free(c->dir);
	free(c->v);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	if (c->dfd >= 0)
		close(c->dfd);
	memset(c, 0, sizeof(*c));
	c->lock_fd = -1;
	c->dfd = -1;
}

int cbt_chain_open_image(const struct cbt_chain *c, size_t i)
{
	char path[4096];
	int ret = cbt_chain_path(c, i, path, sizeof(path));

	return ret ? ret : cbt_store_open_image(c->dfd, c->v[i].file, path, true);
}

int cbt_chain_read_ends(const struct cbt_chain *c, size_t i, struct cbt_img_header *h,
			struct cbt_img_trailer *t)
{
	char path[4096];
	int ret = cbt_chain_path(c, i, path, sizeof(path));

	if (ret) {
		memset(t, 0, sizeof(*t));
		return ret;
	}
	return cbt_img_read_ends_stored(c->dfd, c->v[i].file, path, true, h, t);
}

int cbt_chain_path(const struct cbt_chain *c, size_t i, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", c->dir, c->v[i].file) >= len)
		return cbt_err(-ENAMETOOLONG, "%s: path too long", c->dir);
	return 0;
}

long cbt_chain_find(const struct cbt_chain *c, const uint8_t uuid[16])
{
	for (size_t i = 0; i < c->nr; i++)
		if (!memcmp(c->v[i].uuid, uuid, 16))
			return (long)i;
	return -1;
}

long cbt_chain_find_full(const struct cbt_chain *c, const uint8_t base[16])
{
	for (size_t i = c->nr; i-- > 0;)
		if (c->v[i].type == CBT_IMG_FULL && !memcmp(c->v[i].base, base, 16))
			return (long)i;
	return -1;
}

int cbt_chain_pick(const struct cbt_chain *c, const char *id, size_t *i)
{
	uint8_t u[16];
	uint64_t seq;

	if (!c->nr)
		return cbt_err(-ENOENT, "%s holds no image", c->dir);
	if (!id) {
		*i = c->nr - 1;
		return 0;
	}
	for (size_t k = 0; k < c->nr; k++) {
		if ((!cbt_parse_u64(id, &seq) && c->v[k].seq == seq) || !strcmp(id, c->v[k].file) ||
		    (!cbt_uuid_parse(id, u) && !memcmp(u, c->v[k].uuid, 16))) {
			*i = k;
			return 0;
		}
	}
	return cbt_err(-ENOENT, "%s: no image `%s' (`cbt info %s' lists them by number, file"
		       " and UUID)", c->dir, id, c->dir);
}

int cbt_chain_resolve(const struct cbt_chain *c, size_t i, size_t *path, size_t *n)
{
	char a[CBT_UUID_STR_LEN];

	*n = 0;
	for (;;) {
		if (*n == c->nr)
			return cbt_err(-EBADMSG, "%s: the chain's parent links loop", c->dir);
		path[(*n)++] = i;
		if (c->v[i].type == CBT_IMG_FULL)
			return 0;
		long p = cbt_chain_find(c, c->v[i].parent);

		if (p < 0)
			return cbt_err(-ENOENT, "%s: %s needs parent image %s, which is not in the"
				       " chain (a missing link: restore an older point or take a"
				       " new full backup)", c->dir, c->v[i].file,
				       cbt_uuid_str(c->v[i].parent, a));
		if ((size_t)p >= i)
			return cbt_err(-EBADMSG, "%s: %s has a parent taken after it", c->dir,
				       c->v[i].file);
		i = (size_t)p;
	}
}

int cbt_img_check_link(const struct cbt_img_header *child, const struct cbt_img_header *parent,
		       const char *cn, const char *pn)
{
	if (memcmp(child->parent, parent->uuid, 16))
		return cbt_err(-EBADMSG, "%s is not the parent of %s (mismatched link: the"
			       " file was replaced or belongs to another chain)", pn, cn);
	if (memcmp(child->base, parent->base, 16))
		return cbt_err(-EBADMSG, "%s and %s start from different full images", cn, pn);
	if (memcmp(child->dev_uuid, parent->dev_uuid, 16))
		return cbt_err(-EBADMSG, "%s and %s were taken under different tracking"
			       " identities", cn, pn);
	/* A device may grow along a chain (each point restores at its own size), never shrink. */
	if (child->block_size != parent->block_size)
		return cbt_err(-EBADMSG, "%s and %s differ in block size", cn, pn);
	if (child->dev_bytes < parent->dev_bytes)
		return cbt_err(-EBADMSG, "%s is of a smaller device than its parent %s", cn, pn);
	if (child->epoch_first != parent->epoch_last + 1)
		return cbt_err(-EBADMSG, "%s covers epochs from %llu, but its parent %s ends at"
			       " %llu (epochs are missing between them)", cn,
			       (unsigned long long)child->epoch_first, pn,
			       (unsigned long long)parent->epoch_last);
	return 0;
}

void cbt_chain_next_name(const struct cbt_chain *c, uint32_t type, struct cbt_chain_entry *e)
{
	static const char *const names[] = { "", "full", "incr", "diff" };

	uint64_t last = c->nr ? c->v[c->nr - 1].seq : 0, disk = highest_seq(c->dfd);

	/*
	 * Past the files too: an image renamed into place but never indexed (a
	 * crash before the index was written) keeps its name, and the next
	 * backup goes on instead of failing on it with "File exists".
	 */
	e->seq = (last > disk ? last : disk) + 1;
	e->type = type;
	snprintf(e->file, sizeof(e->file), "%06" PRIu64 "-%s.cbti", e->seq, names[type]);
}

static void put_entry(FILE *f, const struct cbt_chain_entry *e)
{
	char u[CBT_UUID_STR_LEN], p[CBT_UUID_STR_LEN], b[CBT_UUID_STR_LEN], d[CBT_UUID_STR_LEN];

	fprintf(f, "%" PRIu64 " %s %s %s %s %s %" PRIu64 " %" PRIu64 " %s\n", e->seq,
		cbt_img_type_name(e->type), cbt_uuid_str(e->uuid, u),
		e->type == CBT_IMG_FULL ? "-" : cbt_uuid_str(e->parent, p),
		cbt_uuid_str(e->base, b), cbt_uuid_str(e->dev_uuid, d), e->epoch_first,
		e->epoch_last, e->file);
}

/* Write @v to a new index and rename it over the old one. */
static int write_index(struct cbt_chain *c, const struct cbt_chain_entry *v, size_t nr,
		       const struct cbt_chain_entry *extra)
{
	struct cbt_tmpfile tf;
	char path[4096];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/" CBT_CHAIN_INDEX, c->dir);
	ret = cbt_tmpfile_create_at(&tf, c->dfd, CBT_CHAIN_INDEX, path);
	if (ret)
		return ret;
	f = cbt_tmpfile_fdopen(&tf);
	if (!f)
		return -ENOMEM;
	fprintf(f, INDEX_VERSION_LINE "\n");
	for (size_t i = 0; i < nr; i++)
		put_entry(f, &v[i]);
	if (extra)
		put_entry(f, extra);
	return cbt_tmpfile_commit_stdio(&tf, f);
}

int cbt_chain_add(struct cbt_chain *c, const struct cbt_chain_entry *e)
{
	struct cbt_chain_entry *v;
	int ret;

	v = realloc(c->v, (c->nr + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->v = v;
	ret = write_index(c, c->v, c->nr, e);
	if (ret)
		return ret;
	c->v[c->nr++] = *e;
	return 0;
}

int cbt_chain_rewrite(struct cbt_chain *c, const struct cbt_chain_entry *v, size_t nr)
{
	struct cbt_chain_entry *copy = malloc((nr ? nr : 1) * sizeof(*copy));
	int ret;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, v, nr * sizeof(*copy));
	ret = write_index(c, copy, nr, NULL);
	/* The store's index is the chain; the view's only says what to send. */
	if (!ret && c->remote)
		ret = c->remote->put_index(c->remote->arg);
	if (ret) {
		free(copy);
		return ret;
	}
	free(c->v);
	c->v = copy;
	c->nr = nr;
	return 0;
}

/* Call @fn on each name in directory @dfd (the count is @fn's). */
static void each_name(int dfd, void (*fn)(const struct cbt_chain *, int, const char *, int *),
		      const struct cbt_chain *c, int *count)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		fn(c, dirfd(d), de->d_name, count);
	closedir(d);
}

static void remove_partial(const struct cbt_chain *c, int dfd, const char *name, int *count)
{
	size_t l = strlen(name);

	(void)c;
	if (name[0] == '.' && l > 8 && !strcmp(name + l - 8, ".partial") && !unlinkat(dfd, name, 0))
		(*count)++;
}

void cbt_chain_remove_partials(const struct cbt_chain *c)
{
	int n = 0;

	each_name(c->dfd, remove_partial, c, &n);
}

/*
 * An image file the index no longer names, or a segment of one (NAME.NNNN,
 * a split image: docs/storage.md), judged by its image's name: a merge
 * removes a split image's manifest and its segments alike.
 */
static void remove_orphan(const struct cbt_chain *c, int dfd, const char *name, int *count)
{
	uint64_t seq;
	int n = 0;

	if (!c->nr || sscanf(name, "%" SCNu64 "-%*[a-z].cbti%n", &seq, &n) != 1 ||
	    seq > c->v[c->nr - 1].seq)
		return;
	if (name[n] && (name[n] != '.' || strlen(name + n + 1) < 4 ||
			strspn(name + n + 1, "0123456789") != strlen(name + n + 1)))
		return;
	for (size_t i = 0; i < c->nr; i++)
		if (!strncmp(c->v[i].file, name, (size_t)n) && !c->v[i].file[n])
			return;
	/* a stored image whose deletion failed keeps its stub: the next run tries again */
	if (c->remote && c->remote->remove(c->remote->arg, dfd, name))
		return;
	if (!unlinkat(dfd, name, 0))
		(*count)++;
}

int cbt_chain_remove_orphans(const struct cbt_chain *c)
{
	int n = 0;

	each_name(c->dfd, remove_orphan, c, &n);
	if (n)
		cbt_dir_sync(c->dfd, c->dir);
	return n;
}

int cbt_extents_union(const struct cbt_extents *a, const struct cbt_extents *b,
		      struct cbt_extents *out)
{
	size_t i = 0, j = 0;

	cbt_extents_init(out);
	while (i < a->nr || j < b->nr) {
		const struct cbt_range *r;
		uint64_t end = cbt_extents_end(out), s, e;

		if (j == b->nr || (i < a->nr && a->v[i].start <= b->v[j].start))
			r = &a->v[i++];
		else
			r = &b->v[j++];
		s = r->start;
		e = r->start + r->len;
		if (out->nr && s < end)
			s = end;
		if (e > s) {
			int ret = cbt_extents_append(out, s, e - s);

			if (ret) {
				cbt_extents_free(out);
				return ret;
			}
		}
	}
	return 0;
}
