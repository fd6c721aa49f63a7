// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/apply.h"
#include "image/chain.h"
#include "image/image.h"
#include "image/stored.h"
#include "store/segment.h"
#include "util/util.h"

int cbt_open_target(const char *path, int *fd, bool *is_file, bool *created)
{
	struct stat st;

	*created = false;
	if (!stat(path, &st) && S_ISBLK(st.st_mode)) {
		*is_file = false;
		*fd = open(path, O_WRONLY | O_EXCL | O_CLOEXEC);
		if (*fd < 0 && errno == EBUSY)
			return cbt_err(-EBUSY, "%s is in use (mounted, or held by another device or"
				       " program): unmount it or pick another target", path);
	} else {
		*is_file = true;
		*fd = open(path, O_WRONLY | O_CLOEXEC);
		if (*fd < 0 && errno == ENOENT) {
			*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			*created = *fd >= 0;
		}
		if (*fd >= 0 && fstat(*fd, &st) == 0 && !S_ISREG(st.st_mode)) {
			close(*fd);
			return cbt_err(-EINVAL, "%s is neither a block device nor a regular file",
				       path);
		}
	}
	if (*fd < 0)
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	return 0;
}

typedef ssize_t (*pwrite_fn)(int fd, const void *buf, size_t len, off_t off);

static int pwrite_all_with(pwrite_fn wr, int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = wr(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cbt_err(n < 0 ? -errno : -EIO, "writing the target at byte %llu: %s",
				       (unsigned long long)off, n < 0 ? strerror(errno) : "short write");
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	return pwrite_all_with(pwrite, fd, p, len, off);
}

/*
 * Runs of 1 MiB and more go to a block device with O_DIRECT, through a
 * second open file of the same device: no copy into the page cache, which
 * was most of the CPU of a restore's writing thread (tests/bench/README.md,
 * "The reading thread's share cut"). Smaller runs (an incremental's
 * scattered blocks, which the page cache gathers), unaligned ones, and
 * every run after the device refused one (EINVAL) go through the page
 * cache as before. The final fsync() flushes the device's cache for both.
 */
#define DIRECT_MIN (1U << 20)

/*
 * A regular file's runs of DIRECT_MIN and more are handed to writeback as
 * soon as they are in the page cache (sync_file_range(), which starts the
 * writes and waits for none of them): left to the final fsync(), a disk
 * file's data went out only after the last frame, and the disk idled while
 * the frames were decoded. Measured on ext4 and xfs against the page cache
 * alone (tests/bench/README.md, "Early writeback of a file target"); on
 * tmpfs it does nothing. Smaller runs are left to the page cache, which
 * gathers them. A filesystem that refuses it (EINVAL, ENOSYS, ESPIPE) is
 * written as before, without it; any other error is the write's and ends
 * the restore. The final fsync() still waits for everything.
 */
struct target {
	int fd;			/* the target as opened */
	int dfd;		/* the same with O_DIRECT, or -1 */
	uint32_t align;		/* of a direct write's offset, length and memory */
	bool kick;		/* start writeback of large buffered runs (a regular file) */
};

#ifdef CBT_TEST_HOOKS
bool cbt_apply_direct_files;	/* direct writes to regular files too (unit tests) */
ssize_t (*cbt_apply_direct_pwrite)(int fd, const void *buf, size_t len, off_t off) = pwrite;
int (*cbt_apply_writeback)(int fd, off_t off, off_t len, unsigned int flags) = sync_file_range;
#else
static const bool cbt_apply_direct_files;
#define cbt_apply_direct_pwrite pwrite
#define cbt_apply_writeback sync_file_range
#endif

static void target_open_direct(struct target *t, bool is_file)
{
	char path[64];
	int lbs = 0;

	t->dfd = -1;
	t->align = 4096;
	t->kick = is_file;
	if (is_file ? !cbt_apply_direct_files : ioctl(t->fd, BLKSSZGET, &lbs) || lbs <= 0)
		return;
	if ((uint32_t)lbs > t->align)
		t->align = (uint32_t)lbs;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", t->fd);
	t->dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

static int target_write(struct target *t, const uint8_t *p, uint64_t len, uint64_t off,
			struct cbt_apply_stats *st)
{
	int ret;

	if (t->dfd >= 0 && len >= DIRECT_MIN && !(len % t->align) && !(off % t->align) &&
	    !((uintptr_t)p % t->align)) {
		ret = pwrite_all_with(cbt_apply_direct_pwrite, t->dfd, p, len, off);
		if (ret != -EINVAL) {
			st->direct += ret ? 0 : len;
			return ret;
		}
		/* not a shape this device takes directly: the page cache from now on */
		close(t->dfd);
		t->dfd = -1;
		cbt_err_clear();
	}
	ret = pwrite_all(t->fd, p, len, off);
	if (ret || !t->kick || len < DIRECT_MIN)
		return ret;
	if (!cbt_apply_writeback(t->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE)) {
		st->kicked += len;
		return 0;
	}
	if (errno == EINVAL || errno == ENOSYS || errno == ESPIPE) {
		t->kick = false;	/* not for this file: the final fsync() alone, as before */
		return 0;
	}
	return cbt_err(-errno, "writing the target at byte %llu: %s", (unsigned long long)off,
		       strerror(errno));
}

static int zero_range(int fd, bool is_file, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[65536];

	if (is_file && !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				  (off_t)len))
		return 0;
	if (!is_file) {
		uint64_t r[2] = { off, len };

		if (!ioctl(fd, BLKZEROOUT, r))
			return 0;
	}
	while (len) {
		uint64_t k = len < sizeof(zeros) ? len : sizeof(zeros);
		int ret = pwrite_all(fd, zeros, k, off);

		if (ret)
			return ret;
		off += k;
		len -= k;
	}
	return 0;
}

static bool test_bit(const uint64_t *bm, uint64_t b)
{
	return bm[b / 64] >> (b % 64) & 1;
}

static void set_bit(uint64_t *bm, uint64_t b)
{
	bm[b / 64] |= 1ULL << (b % 64);
}

static int lone_image_error(const struct cbt_img_header *h, const char *name)
{
	return cbt_err(-EINVAL, "%s is a %s image: restoring it needs its parent images too"
		       " (restore from the chain directory)", name, cbt_img_type_name(h->type));
}

static int check_target(const struct cbt_img_header *h, int target, bool is_file, bool *touched)
{
	struct stat st;
	uint64_t size = 0;

	if (fstat(target, &st))
		return -errno;
	/*
	 * A file becomes the device as it was at the point, size included: a
	 * chain may span a grow, and an older point is the smaller device.
	 */
	if (is_file) {
		if ((uint64_t)st.st_size == h->dev_bytes)
			return 0;
		*touched = true;
		if (ftruncate(target, (off_t)h->dev_bytes))
			return cbt_err(-errno, "sizing the target to %llu bytes: %s",
				       (unsigned long long)h->dev_bytes, strerror(errno));
		return 0;
	}
	if (ioctl(target, BLKGETSIZE64, &size))
		return cbt_err(-errno, "BLKGETSIZE64: %s", strerror(errno));
	if (size < h->dev_bytes) {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		return cbt_err(-ENOSPC, "the target holds %s, the image needs %s",
			       cbt_human_size(size, a), cbt_human_size(h->dev_bytes, b));
	}
	return 0;
}

int cbt_apply_images(const int *fds, const char *const *names, size_t n, int target,
		     bool is_file, struct cbt_progress *p, struct cbt_apply_stats *st)
{
	struct cbt_img_header prev, cur;
	struct target t = { .fd = target };
	uint64_t *bm = NULL, nr_blocks = 0;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	target_open_direct(&t, is_file);
	memset(&cur, 0, sizeof(cur));
	for (size_t k = 0; k < n && !ret; k++) {
		struct cbt_img_reader *r;
		struct cbt_img_frame f;

		ret = cbt_img_reader_open(&r, fds[k], names[k]);
		if (ret)
			goto next;
		cur = *cbt_img_reader_header(r);
		/* Before the target is extended (k == 0 == n - 1 for a lone image). */
		if (k == n - 1 && cur.type != CBT_IMG_FULL) {
			ret = lone_image_error(&cur, names[k]);
			goto next;
		}
		if (k == 0) {
			st->dev_bytes = cur.dev_bytes;
			nr_blocks = cbt_img_nr_blocks(&cur);
			bm = calloc((size_t)((nr_blocks + 63) / 64), 8);
			if (!bm) {
				char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

				ret = cbt_err(-ENOMEM, "%s: cannot allocate the %s map of the %s"
					      " device's %llu blocks", names[k],
					      cbt_human_size((nr_blocks + 63) / 64 * 8, a),
					      cbt_human_size(cur.dev_bytes, b),
					      (unsigned long long)nr_blocks);
				goto next;
			}
			ret = check_target(&cur, target, is_file, &st->touched);
			if (ret)
				goto next;
		} else {
			ret = cbt_img_check_link(&prev, &cur, names[k - 1], names[k]);
			if (ret)
				goto next;
		}
		while ((ret = cbt_img_next(r, &f)) == 1) {
			const uint8_t *d = f.data;

			ret = 0;
			for (size_t i = 0; i < f.nr && !ret; i++) {
				uint64_t b = f.ext[i].start, end = b + f.ext[i].len;

				while (b < end && !ret) {
					uint64_t run = b, len = 0, off = b * cur.block_size;
					bool skip = test_bit(bm, b);

					while (run < end && test_bit(bm, run) == skip) {
						len += cbt_img_block_len(&cur, run);
						if (!skip)
							set_bit(bm, run);
						run++;
					}
					if (!skip) {
						st->touched = true;
						ret = target_write(&t, d, len, off, st);
						st->written += len;
					}
					d += len;
					b = run;
				}
			}
			if (p)
				cbt_progress_update(p, st->read + cbt_img_reader_bytes(r));
			if (ret)
				break;
		}
		st->read += cbt_img_reader_bytes(r);
next:
		prev = cur;
		cbt_img_reader_free(r);
	}
	/* Blocks no image holds read as zeros. */
	for (uint64_t b = 0; !ret && b < nr_blocks;) {
		uint64_t e = b;

		if (test_bit(bm, b)) {
			b++;
			continue;
		}
		while (e < nr_blocks && !test_bit(bm, e))
			e++;
		uint64_t off = b * cur.block_size, end = e * (uint64_t)cur.block_size;

		if (end > st->dev_bytes)
			end = st->dev_bytes;
		st->touched = true;
		ret = zero_range(target, is_file, off, end - off);
		st->zeroed += end - off;
		b = e;
	}
	if (t.dfd >= 0)
		close(t.dfd);
	if (!ret && fsync(target))
		ret = cbt_err(-errno, "flushing the target: %s", strerror(errno));
	free(bm);
	return ret;
}

uint64_t cbt_point_bytes(const struct cbt_point *pt)
{
	uint64_t sum = 0;
	struct stat st;

	for (size_t i = 0; i < pt->n; i++)
		if (!fstat(pt->fds[i], &st) && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	return sum;
}

void cbt_point_free(struct cbt_point *pt)
{
	for (size_t i = 0; i < pt->n; i++) {
		if (pt->fds[i] >= 0)
			close(pt->fds[i]);
		free(pt->names[i]);
	}
	free(pt->fds);
	free(pt->names);
	memset(pt, 0, sizeof(*pt));
}

static int point_add(struct cbt_point *pt, const char *name, int fd)
{
	int *fds = realloc(pt->fds, (pt->n + 1) * sizeof(*fds));
	char **names;

	if (!fds)
		return -ENOMEM;
	pt->fds = fds;
	names = realloc(pt->names, (pt->n + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	pt->names = names;
	pt->names[pt->n] = strdup(name);
	pt->fds[pt->n++] = fd;
	return pt->names[pt->n - 1] ? 0 : -ENOMEM;
}

/* Read image @fd whole, checking everything, and rewind it; @h (or NULL) gets its header. */
static int preverify(int fd, const char *name, struct cbt_img_header *h)
{
	int ret = cbt_img_verify_fd(fd, name, h, NULL);

	if (!ret && lseek(fd, 0, SEEK_SET))
		ret = cbt_err(-errno, "%s: %s", name, strerror(errno));
	return ret;
}

/*
 * Copy the stream @fd into an unnamed file in @dir (O_TMPFILE: nothing to
 * clean up), so it can be checked whole before anything is written.
 */
static int spool(int fd, const char *name, const char *dir)
{
	static char buf[1 << 20];
	int out, e;

	if (!dir)
		dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : NULL;
	/* /var/tmp is disk, /tmp may be memory; a rescue system may lack /var/tmp. */
	out = open(dir ? dir : "/var/tmp", O_RDWR | O_TMPFILE | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 && !dir && (errno == ENOENT || errno == ENOTDIR)) {
		dir = "/tmp";
		out = open(dir, O_RDWR | O_TMPFILE | O_EXCL | O_CLOEXEC, 0600);
	}
	if (!dir)
		dir = "/var/tmp";
	if (out < 0)
		return cbt_err(-errno, "spooling %s: %s: %s (--spool-dir names another directory)",
			       name, dir, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf)), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(out);
			return cbt_err(-e, "reading %s: %s", name, strerror(e));
		}
		if (!n)
			break;
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				e = errno;
				close(out);
				return cbt_err(-e, "spooling %s to %s: %s (--spool-dir names a"
					       " directory with room for the image; --no-preverify"
					       " writes while reading)", name, dir, strerror(e));
			}
			w += k;
		}
	}
	if (lseek(out, 0, SEEK_SET)) {
		e = errno;
		close(out);
		return cbt_err(-e, "spooling %s: %s", name, strerror(e));
	}
	return out;
}

/* One image file or stream: spooled if a stream, checked, a full image. */
static int open_one(const char *src, bool full_check, const char *spool_dir,
		    struct cbt_point *pt)
{
	const char *name = strcmp(src, "-") ? src : "standard input";
	int fd = cbt_store_open_path(src);
	struct cbt_img_header h;
	uint8_t hb[CBT_IMG_HEADER_SIZE];
	struct stat st;
	int ret;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		ret = cbt_err(-errno, "%s: %s", src, strerror(errno));
		close(fd);
		return ret;
	}
	if (full_check && !S_ISREG(st.st_mode)) {
		int s = spool(fd, name, spool_dir);

		close(fd);
		if (s < 0)
			return s;
		fd = s;
	}
	ret = point_add(pt, name, fd);
	if (ret) {
		close(fd);
		return ret;
	}
	if (full_check) {
		ret = preverify(fd, name, &h);
	} else if (S_ISREG(st.st_mode)) {
		ret = cbt_pread_full(fd, hb, sizeof(hb), 0);
		if (ret == -ENODATA)
			ret = cbt_err(-EBADMSG, "%s: truncated", name);
		else if (ret)
			ret = cbt_err(ret, "%s: %s", name, strerror(-ret));
		else if ((ret = cbt_img_header_decode(hb, &h)))
			cbt_err_prefix(ret, "%s", name);
	} else {
		return 0;	/* a stream: cbt_apply_images() checks the type before writing */
	}
	if (!ret && h.type != CBT_IMG_FULL)
		ret = lone_image_error(&h, name);
	return ret;
}

/* A lone image named for random access: checked as open_one() does, not opened. */
static int name_one(const char *src, struct cbt_point *pt)
{
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	int ret = cbt_img_read_ends_stored(AT_FDCWD, src, src, false, &h, &t);

	cbt_extents_free(&t.map);
	if (!ret && h.type != CBT_IMG_FULL)
		ret = lone_image_error(&h, src);
	return ret ? ret : point_add(pt, src, -1);
}

/* cbt_open_point(), or with @names_only cbt_name_point(). */
static int open_point(const char *src, const char *id, bool full_check, const char *spool_dir,
		      bool names_only, struct cbt_point *pt)
{
	struct cbt_img_header h[2];
	struct cbt_chain c;
	struct stat st;
	size_t *path = NULL, n = 0;
	int ret;

	memset(pt, 0, sizeof(*pt));
	if (!strcmp(src, "-") || stat(src, &st) || !S_ISDIR(st.st_mode)) {
		if (id)
			return cbt_err(-EINVAL, "--image and --at pick an image of a chain directory;"
				       " %s is one image", src);
		ret = names_only ? name_one(src, pt) : open_one(src, full_check, spool_dir, pt);
		if (ret)
			cbt_point_free(pt);
		return ret;
	}
	ret = cbt_chain_open(&c, src, false, false);
	if (ret) {
		cbt_chain_close(&c);	/* what it read before the bad line */
		return ret;
	}
	ret = cbt_chain_pick(&c, id, &n);
	if (!ret) {
		size_t i = n;

		path = calloc(c.nr, sizeof(*path));
		ret = path ? cbt_chain_resolve(&c, i, path, &n) : -ENOMEM;
	}
	/* Every link's header and trailer first, so nothing is written for a broken chain. */
	for (size_t k = 0; !ret && k < n; k++) {
		const struct cbt_chain_entry *e = &c.v[path[k]];
		struct cbt_img_trailer t;
		char file[4096];
		int fd;

		ret = cbt_chain_path(&c, path[k], file, sizeof(file));
		if (ret)
			break;
		ret = cbt_chain_read_ends(&c, path[k], &h[k % 2], &t);
		cbt_extents_free(&t.map);
		/* a link the index lists is gone: a damaged chain (exit 4, as verify) */
		if (ret == -ENOENT && !faccessat(c.dfd, e->file, F_OK, AT_SYMLINK_NOFOLLOW))
			/* the image is there, a segment of it is not: named in the detail */
			ret = cbt_err(-EBADMSG, "%s", cbt_err_detail() ? cbt_err_detail() : e->file);
		else if (ret == -ENOENT)
			ret = cbt_err(-EBADMSG, "%s: image %s is missing (a missing link of the chain:"
				      " restore a point taken after the next full image, or an"
				      " older one)", src, e->file);
		if (ret)
			break;
		if (memcmp(h[k % 2].uuid, e->uuid, 16) || h[k % 2].type != e->type) {
			ret = cbt_err(-EBADMSG, "%s is not the image the chain index lists (it was"
				      " replaced)", file);
			break;
		}
		if (k)
			ret = cbt_img_check_link(&h[(k - 1) % 2], &h[k % 2], pt->names[k - 1], file);
		fd = ret || names_only ? -1 : cbt_chain_open_image(&c, path[k]);
		if (!ret && !names_only && fd < 0)
			ret = fd;
		/* A split image comes as a stream: preverify needs to read it twice. */
		if (!ret && full_check && lseek(fd, 0, SEEK_CUR) < 0) {
			int s = spool(fd, file, spool_dir);

			close(fd);
			fd = s;
			if (s < 0)
				ret = s;
		}
		if (!ret)
			ret = point_add(pt, file, fd);
	}
	for (size_t k = 0; !ret && full_check && k < n; k++)
		ret = preverify(pt->fds[k], pt->names[k], NULL);
	free(path);
	cbt_chain_close(&c);
	if (ret)
		cbt_point_free(pt);
	return ret;
}

int cbt_open_point(const char *src, const char *id, bool full_check, const char *spool_dir,
		   struct cbt_point *pt)
{
	return open_point(src, id, full_check, spool_dir, false, pt);
}

int cbt_name_point(const char *src, const char *id, struct cbt_point *pt)
{
	return open_point(src, id, false, NULL, true, pt);
}
