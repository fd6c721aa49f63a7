// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/util.h"

/* Per thread: the compression workers and the main thread never share a detail. */
static _Thread_local char errdetail[1024];
static _Thread_local bool have_detail;
/* The detail is about how the tool was called (cbt_err_usage()). */
static _Thread_local bool detail_usage;

/* errdetail = a b c d, cut to fit. */
static void set_detail(const char *a, const char *b, const char *c, const char *d)
{
	const char *parts[] = { a, b, c, d };
	char tmp[sizeof(errdetail)];
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		size_t n = strnlen(parts[i], sizeof(tmp) - 1 - len);

		memcpy(tmp + len, parts[i], n);
		len += n;
	}
	tmp[len] = '\0';
	memcpy(errdetail, tmp, len + 1);
	have_detail = true;
}

static const char *detail_or(int err)
{
	return have_detail ? errdetail : strerror(-err);
}

/* cbt_err() and cbt_err_usage(): @fmt is the whole detail. */
static __attribute__((format(printf, 3, 0)))
int set_err(int err, bool usage, const char *fmt, va_list ap)
{
	char msg[sizeof(errdetail)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	set_detail(msg, "", "", "");
	detail_usage = usage;
	return err;
}

int cbt_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = set_err(err, false, fmt, ap);
	va_end(ap);
	return err;
}

int cbt_err_usage(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = set_err(err, true, fmt, ap);
	va_end(ap);
	return err;
}

int cbt_err_prefix(int err, const char *fmt, ...)
{
	char msg[sizeof(errdetail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_detail(msg, ": ", detail_or(err), "");
	return err;
}

int cbt_err_hint(int err, const char *fmt, ...)
{
	char msg[sizeof(errdetail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_detail(detail_or(err), " (", msg, ")");
	return err;
}

const char *cbt_err_detail(void)
{
	return have_detail ? errdetail : NULL;
}

bool cbt_err_is_usage(void)
{
	return have_detail && detail_usage;
}

void cbt_err_clear(void)
{
	have_detail = false;
	detail_usage = false;
	errdetail[0] = '\0';
}

/* Per thread, like errdetail: libcbt's callers may write images from several threads. */
static _Thread_local char failure[sizeof(errdetail) + 128], failure_reason[32];
static _Thread_local int failure_errno;
static _Thread_local bool failure_usage;
static bool failure_json_printed;
static bool stdout_data;

void cbt_perror(const char *prefix, int err)
{
	snprintf(failure, sizeof(failure), "%s: %s", prefix,
		 have_detail ? errdetail : strerror(-err));
	failure_errno = err;
	failure_usage = have_detail && detail_usage;
	fprintf(stderr, "%s\n", failure);
	cbt_err_clear();
}

int cbt_exit_status(int err)
{
	switch (err) {
	case 0:
		return CBT_EXIT_OK;
	case -ESTALE:
		return CBT_EXIT_FULL_NEEDED;
	case -EBADMSG:
		return CBT_EXIT_DAMAGED;
	/* An encrypted chain without its key, or with another one: how it was called. */
	case -ENOKEY:
	case -EKEYREJECTED:
		return CBT_EXIT_USAGE;
	/* No such cbt device, a device that went away, a kernel that answers unexpectedly. */
	case -ENODEV:
	case -ENXIO:
	case -ENOTBLK:
	case -ENOMEDIUM:
	case -EPROTO:
		return CBT_EXIT_DEVICE;
	/* Storage out of space, read-only or over a limit: free space, then run again. */
	case -ENOSPC:
	case -EDQUOT:
	case -EROFS:
	case -EFBIG:
		return CBT_EXIT_STORAGE;
	}
	return CBT_EXIT_ERROR;
}

int cbt_fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	failure_usage = status == CBT_EXIT_USAGE;
	fprintf(stderr, "%s\n", failure);
	return status;
}

void cbt_fail_reason(const char *reason)
{
	char tmp[sizeof(failure_reason)];

	/* @reason may be cbt_failure_reason() itself */
	snprintf(tmp, sizeof(tmp), "%s", reason);
	memcpy(failure_reason, tmp, sizeof(tmp));
}

const char *cbt_failure(void)
{
	return failure[0] ? failure : NULL;
}

const char *cbt_failure_reason(void)
{
	return failure_reason[0] ? failure_reason : NULL;
}

int cbt_failure_errno(void)
{
	return failure_errno;
}

bool cbt_failure_usage(void)
{
	return failure_usage;
}

void cbt_fail_json_printed(void)
{
	failure_json_printed = true;
}

bool cbt_failure_json_printed(void)
{
	return failure_json_printed;
}

void cbt_stdout_is_data(void)
{
	stdout_data = true;
}

bool cbt_stdout_data(void)
{
	return stdout_data;
}

int cbt_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d = (unsigned char)*s - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int cbt_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int ret = cbt_parse_u64(s, &v);

	if (ret)
		return ret;
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int cbt_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmg";
	size_t digits = strspn(s, "0123456789");
	const char *unit = s + digits, *u;
	uint64_t v, mult = 1;
	char num[32];
	int ret;

	if (!digits || digits >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, digits);
	num[digits] = '\0';
	ret = cbt_parse_u64(num, &v);
	if (ret)
		return ret;
	u = *unit ? strchr(units, *unit | 0x20) : NULL;
	if (u) {
		mult = 1ULL << (10 * (u - units + 1));
		unit++;
		if (!strcmp(unit, "iB"))
			unit += 2;
	}
	if (!strcmp(unit, "B"))
		unit++;
	if (*unit)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

uint64_t cbt_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t cbt_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *cbt_human_size(uint64_t bytes, char buf[CBT_HUMAN_LEN])
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned int k = 0, shift;
	uint64_t whole, rem, tenths;

	while (k + 1 < ARRAY_SIZE(units) && bytes >> (10 * (k + 1)))
		k++;
	if (!k) {
		snprintf(buf, CBT_HUMAN_LEN, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	shift = 10 * k;
	whole = bytes >> shift;
	rem = bytes & ((1ULL << shift) - 1);
	if (!rem) {
		snprintf(buf, CBT_HUMAN_LEN, "%u %s", (unsigned int)whole, units[k]);
		return buf;
	}
	/* rem < 2^60, so rem * 10 cannot overflow. */
	tenths = (rem * 10 + (1ULL << (shift - 1))) >> shift;
	if (tenths == 10) {
		whole++;
		tenths = 0;
		if (whole == 1024 && k + 1 < ARRAY_SIZE(units)) {
			whole = 1;
			k++;
		}
	}
	/* whole < 1024 (at most 16 EiB), tenths < 10 */
	snprintf(buf, CBT_HUMAN_LEN, "%u.%u %s", (unsigned int)whole, (unsigned int)tenths, units[k]);
	return buf;
}

const char *cbt_uuid_str(const uint8_t u[16], char buf[CBT_UUID_STR_LEN])
{
	snprintf(buf, CBT_UUID_STR_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
	return buf;
}

int cbt_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -ENODATA;
		done += (size_t)n;
	}
	return 0;
}

int cbt_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -ENOSPC;
		done += (size_t)n;
	}
	return 0;
}

int cbt_unix_socket_reclaim(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(a.sun_path))
		return cbt_err(-ENAMETOOLONG, "%s: a Unix socket path has %zu bytes at most", path,
			       sizeof(a.sun_path) - 1);
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return cbt_err(-EEXIST, "%s exists and is not a socket", path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cbt_err(-errno, "socket: %s", strerror(errno));
	err = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	close(fd);
	if (err != ECONNREFUSED)
		return cbt_err(-EADDRINUSE, "%s: a server is listening on it", path);
	return unlink(path) && errno != ENOENT ? cbt_err(-errno, "%s: %s", path, strerror(errno)) : 0;
}

int cbt_sched_idle(void)
{
	const struct sched_param p = { .sched_priority = 0 };
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int ret = 0;

	if (!d)
		return cbt_err(-errno, "listing this process's threads (/proc/self/task)");
	while (!ret && (e = readdir(d))) {
		pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);

		/* A thread that ended since the listing has nothing to lower. */
		if (tid > 0 && sched_setscheduler(tid, SCHED_IDLE, &p) && errno != ESRCH)
			ret = cbt_err(-errno, "putting thread %d under SCHED_IDLE", (int)tid);
	}
	closedir(d);
	return ret;
}
