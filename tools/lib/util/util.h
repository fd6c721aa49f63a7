/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by every part of the cbt tool: the error detail
 * that goes with a -errno, strict number parsing, human sizes, UUIDs.
 *
 * Error convention: functions return 0 (or a count) on success and a
 * negative errno on failure. A function that knows more than the errno
 * says (which attribute was bad, which input it could not read) records
 * it with cbt_err(); the subcommand prints it once, with cbt_perror().
 */
#ifndef CBT_UTIL_H
#define CBT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Record @fmt as the detail of error @err (a negative errno) and return
 * @err, so a caller can write `return cbt_err(-EINVAL, "...", ...);`.
 */
int cbt_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * cbt_err() for a malformed argument (a device that is not NAME, MAJ:MIN
 * or a path): once printed with cbt_perror(), cbt_failure_usage() is true
 * and the run exits 2 (CBT_EXIT_USAGE) whatever @err is.
 */
int cbt_err_usage(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Put "@fmt: " in front of the recorded detail (or of strerror(-@err) when
 * there is none) and return @err: callers add context on the way up.
 */
int cbt_err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add " (@fmt)" after the detail: a hint saying what to do next. */
int cbt_err_hint(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The recorded detail, or NULL. */
const char *cbt_err_detail(void);
/* The recorded detail came from cbt_err_usage(): a malformed argument. */
bool cbt_err_is_usage(void);
void cbt_err_clear(void);
/*
 * Print "@prefix: detail" (or "@prefix: strerror") to stderr, once, and
 * keep it as the run's failure (cbt_failure()).
 */
void cbt_perror(const char *prefix, int err);

/*
 * Exit statuses, the same for every subcommand (cbt.8, EXIT STATUS), so a
 * scheduler can act without parsing messages.
 */
enum {
	CBT_EXIT_OK = 0,
	CBT_EXIT_ERROR = 1,
	CBT_EXIT_USAGE = 2,		/* also -ENOKEY, -EKEYREJECTED: a missing or wrong key */
	CBT_EXIT_FULL_NEEDED = 3,	/* -ESTALE: the chain's history is lost */
	CBT_EXIT_DAMAGED = 4,		/* -EBADMSG: verify failed, chain or image damaged */
	CBT_EXIT_DEVICE = 5,		/* the device or its tracking: -ENODEV, -ENXIO, -EPROTO... */
	CBT_EXIT_STORAGE = 6,		/* storage out of space or read-only: -ENOSPC, -EDQUOT, -EROFS, -EFBIG */
};

/* The exit status for a failure with @err (a negative errno). */
int cbt_exit_status(int err);

/*
 * The run's failure, for the JSON error object cbt prints under --json:
 * cbt_fail() prints "@fmt" and a newline to stderr, keeps it, and returns
 * @status; cbt_fail_reason() adds the identity reason when the failure is
 * a lost history. cbt_failure() is NULL before any failure was kept.
 */
int cbt_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cbt_fail_reason(const char *reason);
const char *cbt_failure(void);
const char *cbt_failure_reason(void);
/* The errno of the last cbt_perror(), 0 if none. */
int cbt_failure_errno(void);
/* The last cbt_perror() printed a detail from cbt_err_usage(): bad usage. */
bool cbt_failure_usage(void);
/*
 * Under --json, the subcommand printed its own failure object (with
 * cbt_json_failure()): cbt keeps it instead of printing one.
 */
void cbt_fail_json_printed(void);
bool cbt_failure_json_printed(void);
/*
 * The command's standard output carries data (backup -o -): --json's error
 * object goes to standard error, not into the image stream.
 */
void cbt_stdout_is_data(void);
bool cbt_stdout_data(void);

/*
 * Decimal only: no sign, no blanks, no trailing junk, at least one digit.
 * -EINVAL for a malformed string, -ERANGE when it does not fit.
 */
int cbt_parse_u64(const char *s, uint64_t *out);
int cbt_parse_u32(const char *s, uint32_t *out);
/*
 * Every size argument of the tool (--chunk, --block-size, --rate,
 * --converge): decimal bytes, optionally followed by "B", or by K, M or G
 * (powers of 1024, either case) alone or with "B" or "iB": "4096",
 * "4096B", "64k", "64KiB", "1M", "2GB". -EINVAL for anything else, -ERANGE
 * when it does not fit in 64 bits. The caller checks its own bounds.
 */
int cbt_parse_size(const char *s, uint64_t *out);

/* Nanoseconds on CLOCK_MONOTONIC: intervals, rates, deadlines. */
uint64_t cbt_mono_ns(void);
/* Nanoseconds since the epoch on CLOCK_REALTIME: dates written to files. */
uint64_t cbt_real_ns(void);

/*
 * Read exactly @len bytes at @off, retrying short reads and EINTR: 0,
 * -errno, or -ENODATA when the file ends first. Records no detail.
 */
int cbt_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* Write exactly @len bytes at @off, the same way: -ENOSPC when nothing more goes. */
int cbt_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/*
 * Make @path free for a new Unix socket: a socket nobody listens on (a
 * server that died left it) is removed. 0 when @path is free; -EEXIST for
 * anything but a socket, -EADDRINUSE while a server listens, with a detail.
 */
int cbt_unix_socket_reclaim(const char *path);

/*
 * Put every thread of this process under SCHED_IDLE (threads started
 * later inherit it): the CPU only when no normal task wants it. 0, or
 * -errno of the first thread that could not be moved (with a detail).
 */
int cbt_sched_idle(void);

/* "512 B", "64 KiB", "1.5 GiB": IEC units, one decimal when not exact. */
#define CBT_HUMAN_LEN 32
const char *cbt_human_size(uint64_t bytes, char buf[CBT_HUMAN_LEN]);

/* The canonical 8-4-4-4-12 lower-case form. */
#define CBT_UUID_STR_LEN 37
const char *cbt_uuid_str(const uint8_t uuid[16], char buf[CBT_UUID_STR_LEN]);

#endif /* CBT_UTIL_H */
