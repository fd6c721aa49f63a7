/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Files the tool creates or replaces as root in directories it may not
 * control (chain directories, `-o FILE', export's output, the clone state,
 * devices.conf): every name is resolved relative to a directory opened
 * once, never through a symbolic link, and every new file is created with
 * O_EXCL under a name nobody can guess, then renamed into place. A link
 * planted under a temporary or lock name makes the tool refuse or pick
 * another name; it never writes through it.
 */
#ifndef CBT_SAFEFILE_H
#define CBT_SAFEFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Open @path as a directory the tool writes into: not a symbolic link,
 * owned by the effective uid, not writable by group or others (anyone who
 * can write there can replace or remove images). With @create, made 0700
 * when missing. Returns the directory's fd or a -errno with a detail
 * (-EPERM for the owner and mode, -ELOOP for a link).
 */
int cbt_dir_open_private(const char *path, bool create);

/*
 * Open @path for reading without blocking on a FIFO or a device: a regular
 * file only, and with @nofollow not through a symbolic link (files of a
 * chain directory, which the user did not name one by one). @dfd: the
 * directory @path is relative to, or AT_FDCWD. Returns the fd or a -errno
 * with a detail naming @shown.
 */
int cbt_open_regular(int dfd, const char *path, const char *shown, bool nofollow);

/*
 * A file being written that replaces NAME in a directory once complete:
 * it is created as ".NAME.XXXXXXXX.partial" (O_EXCL, O_NOFOLLOW, 0600),
 * and cbt_tmpfile_commit() flushes it, renames it over NAME and flushes
 * the directory.
 */
struct cbt_tmpfile {
	int dfd;		/* the directory */
	bool own_dfd;		/* dfd opened here (closed by commit or abort) */
	bool noreplace;		/* commit fails with -EEXIST if NAME exists */
	int fd;			/* the temporary file, open for writing */
	char tmp[NAME_MAX + 1];	/* its name in dfd */
	char name[NAME_MAX + 1];	/* the name it replaces */
	char shown[4096];	/* the final path, for messages */
};

/* Create the temporary file for NAME in directory @dfd (kept open by the caller). */
int cbt_tmpfile_create_at(struct cbt_tmpfile *t, int dfd, const char *name, const char *shown);
/* The same for the file @path: its directory is opened here (symbolic links in it followed). */
int cbt_tmpfile_create(struct cbt_tmpfile *t, const char *path);
/* fsync, rename over NAME, fsync the directory; the tmpfile is closed either way. */
int cbt_tmpfile_commit(struct cbt_tmpfile *t);
/* A stdio stream on the temporary file (its own fd), or NULL (the tmpfile then aborted). */
FILE *cbt_tmpfile_fdopen(struct cbt_tmpfile *t);
/* Flush and close @f, then cbt_tmpfile_commit() (or abort when the writes failed). */
int cbt_tmpfile_commit_stdio(struct cbt_tmpfile *t, FILE *f);
/*
 * Take @bytes of room for the temporary file now (fallocate, its size left
 * 0), then close it (an open file would keep its filesystem from being
 * remounted read-only); cbt_tmpfile_reopen() opens it again to write into
 * that room, which a filesystem filled meanwhile cannot take. A
 * filesystem without fallocate takes no room: 0 all the same. On failure
 * (-ENOSPC) the temporary file is removed.
 */
int cbt_tmpfile_reserve(struct cbt_tmpfile *t, off_t bytes);
/*
 * Open again, for writing, the temporary file cbt_tmpfile_reserve() closed:
 * still a regular file of ours with one link, or -EEXIST (it is removed).
 */
int cbt_tmpfile_reopen(struct cbt_tmpfile *t);
/* Close and remove the temporary file (nothing happens to NAME). */
void cbt_tmpfile_abort(struct cbt_tmpfile *t);
/* fsync(@dfd), with a detail naming @shown on failure. */
int cbt_dir_sync(int dfd, const char *shown);

#endif /* CBT_SAFEFILE_H */
