// SPDX-License-Identifier: GPL-2.0
/* util.c: human sizes, strict numbers, sizes, clocks, UUIDs, the error detail chain. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

#include "unit.h"
#include "util/util.h"

static void human_sizes(void)
{
	static const struct {
		uint64_t bytes;
		const char *want;
	} t[] = {
		{ 0, "0 B" },
		{ 1, "1 B" },
		{ 1023, "1023 B" },
		{ 1024, "1 KiB" },
		{ 1536, "1.5 KiB" },
		{ 65536, "64 KiB" },
		{ 1048575, "1.0 MiB" },		/* rounds up into the next unit */
		{ 1048576, "1 MiB" },
		{ 1024 * 1024 + 52429, "1.1 MiB" },
		{ 1024 * 1024 + 52428, "1.0 MiB" },
		{ 107374182400ULL, "100 GiB" },
		{ 5ULL << 40, "5 TiB" },
		{ (1ULL << 50) * 3 / 2, "1.5 PiB" },
		{ 1ULL << 60, "1 EiB" },
		{ UINT64_MAX, "16.0 EiB" },
	};
	char buf[CBT_HUMAN_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		CHECK_STR(cbt_human_size(t[i].bytes, buf), t[i].want);
}

static void parse_numbers(void)
{
	uint64_t v;
	uint32_t w;

	CHECK_EQ(cbt_parse_u64("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(cbt_parse_u64("18446744073709551615", &v), 0);
	CHECK_EQ(v, UINT64_MAX);
	CHECK_EQ(cbt_parse_u64("18446744073709551616", &v), -ERANGE);
	CHECK_EQ(cbt_parse_u64("99999999999999999999", &v), -ERANGE);
	CHECK_EQ(cbt_parse_u64("", &v), -EINVAL);
	CHECK_EQ(cbt_parse_u64("-1", &v), -EINVAL);
	CHECK_EQ(cbt_parse_u64("+1", &v), -EINVAL);
	CHECK_EQ(cbt_parse_u64(" 1", &v), -EINVAL);
	CHECK_EQ(cbt_parse_u64("1 ", &v), -EINVAL);
	CHECK_EQ(cbt_parse_u64("0x10", &v), -EINVAL);
	CHECK_EQ(cbt_parse_u32("4294967295", &w), 0);
	CHECK_EQ(w, UINT32_MAX);
	CHECK_EQ(cbt_parse_u32("4294967296", &w), -ERANGE);
}

/*
 * The one size parser: every spelling the three parsers it replaced
 * (snapshot --chunk, attach --block-size, clone --rate) accepted still
 * gives the same bytes; the rest is -EINVAL, too large -ERANGE.
 */
static void parse_sizes(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "4096B", 4096 },
		{ "64k", 65536 }, { "64K", 65536 }, { "64KiB", 65536 }, { "64KB", 65536 },
		{ "64kB", 65536 }, { "1m", 1048576 }, { "1M", 1048576 }, { "1MiB", 1048576 },
		{ "1MB", 1048576 }, { "2G", 2147483648ULL }, { "2GiB", 2147483648ULL },
		{ "2g", 2147483648ULL }, { "17179869183G", 17179869183ULL << 30 },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "K", "B", "-1", "+1", " 1", "1 ", "1.5M", "0x10", "4X", "4KiBx", "4Ki", "4iB",
		"4BB", "4KBB", "4T", "1 K", "4kib",
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		v = 1;
		if (cbt_parse_size(ok[i].s, &v) || v != ok[i].v)
			UT_FAIL("cbt_parse_size(\"%s\"): %" PRIu64 ", want %" PRIu64, ok[i].s, v,
				ok[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (cbt_parse_size(bad[i], &v) != -EINVAL)
			UT_FAIL("cbt_parse_size(\"%s\") is not -EINVAL", bad[i]);
	CHECK_EQ(cbt_parse_size("17179869184G", &v), -ERANGE);
	CHECK_EQ(cbt_parse_size("18446744073709551616", &v), -ERANGE);
	CHECK_EQ(cbt_parse_size("18014398509481984K", &v), -ERANGE);
}

/* The clocks are the system's: monotonic never goes back, realtime is today. */
static void clocks(void)
{
	uint64_t a = cbt_mono_ns(), b = cbt_mono_ns(), r = cbt_real_ns();
	struct timespec ts;

	CHECK(b >= a);
	clock_gettime(CLOCK_REALTIME, &ts);
	CHECK((uint64_t)ts.tv_sec >= r / 1000000000ULL);
	CHECK((uint64_t)ts.tv_sec - r / 1000000000ULL <= 5);
}

static void uuid_format(void)
{
	const uint8_t u[16] = { 0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2,
				0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27 };
	char buf[CBT_UUID_STR_LEN];

	CHECK_STR(cbt_uuid_str(u, buf), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
}

static void error_detail_chain(void)
{
	CHECK(!cbt_err_detail());
	CHECK_EQ(cbt_err(-EINVAL, "bad `%s'", "x"), -EINVAL);
	CHECK_STR(cbt_err_detail(), "bad `x'");
	CHECK_EQ(cbt_err_prefix(-EINVAL, "dev"), -EINVAL);
	CHECK_STR(cbt_err_detail(), "dev: bad `x'");
	CHECK_EQ(cbt_err_hint(-EINVAL, "do %s", "this"), -EINVAL);
	CHECK_STR(cbt_err_detail(), "dev: bad `x' (do this)");
	cbt_err_clear();
	/* with no detail, the prefix goes in front of strerror */
	cbt_err_prefix(-ENODEV, "vg");
	CHECK_STR(cbt_err_detail(), "vg: No such device");
}

static void error_detail_truncates(void)
{
	char big[3000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cbt_err(-EINVAL, "%s", big);
	cbt_err_prefix(-EINVAL, "%s", big);
	cbt_err_hint(-EINVAL, "%s", big);
	CHECK(strlen(cbt_err_detail()) < 1024);
}

static void *set_detail_thread(void *arg)
{
	(void)arg;
	cbt_err(-EIO, "from a worker");
	return NULL;
}

/* review L6: a worker's detail does not replace the main thread's */
static void error_detail_per_thread(void)
{
	pthread_t t;

	cbt_err(-EINVAL, "from main");
	CHECK_EQ(pthread_create(&t, NULL, set_detail_thread, NULL), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_STR(cbt_err_detail(), "from main");
	cbt_err_clear();
}

static void *wait_for_go(void *arg)
{
	int *go = arg;

	while (!__atomic_load_n(go, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

static void *policy_of_self(void *arg)
{
	*(int *)arg = sched_getscheduler(0);
	return NULL;
}

/*
 * cbt backup --idle: every thread already running and every thread started
 * after is under SCHED_IDLE. In a child, so this process keeps its policy.
 * The child's exit status says which check failed.
 */
static int sched_idle_child(void)
{
	struct sched_param p;
	pthread_t before, after;
	int go = 0, policy = -1, later = -1;

	if (pthread_create(&before, NULL, wait_for_go, &go))
		return 10;
	if (cbt_sched_idle())
		return 11;
	if (sched_getscheduler(0) != SCHED_IDLE)
		return 12;
	if (pthread_getschedparam(before, &policy, &p) || policy != SCHED_IDLE)
		return 13;
	if (pthread_create(&after, NULL, policy_of_self, &later) || pthread_join(after, NULL))
		return 14;
	if (later != SCHED_IDLE)
		return 15;
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	return pthread_join(before, NULL) ? 16 : 0;
}

static void sched_idle_threads(void)
{
	int status = -1;
	pid_t pid = fork();

	if (!pid)
		_exit(sched_idle_child());
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK(sched_getscheduler(0) != SCHED_IDLE);
}

/* The exit statuses of cbt.8 EXIT STATUS, by errno. */
static void exit_statuses(void)
{
	CHECK_EQ(cbt_exit_status(0), 0);
	CHECK_EQ(cbt_exit_status(-EINVAL), 1);
	CHECK_EQ(cbt_exit_status(-EIO), 1);
	CHECK_EQ(cbt_exit_status(-ESTALE), 3);
	CHECK_EQ(cbt_exit_status(-EBADMSG), 4);
	CHECK_EQ(cbt_exit_status(-ENODEV), 5);
	CHECK_EQ(cbt_exit_status(-ENXIO), 5);
	CHECK_EQ(cbt_exit_status(-ENOTBLK), 5);
	CHECK_EQ(cbt_exit_status(-ENOMEDIUM), 5);
	CHECK_EQ(cbt_exit_status(-EPROTO), 5);
	CHECK_EQ(cbt_exit_status(-ENOSPC), 6);
	CHECK_EQ(cbt_exit_status(-EDQUOT), 6);
	CHECK_EQ(cbt_exit_status(-EROFS), 6);
	CHECK_EQ(cbt_exit_status(-EFBIG), 6);
}

UT_MAIN("util",
	UT_CASE(exit_statuses),
	UT_CASE(human_sizes),
	UT_CASE(parse_numbers),
	UT_CASE(parse_sizes),
	UT_CASE(clocks),
	UT_CASE(uuid_format),
	UT_CASE(error_detail_chain),
	UT_CASE(error_detail_truncates),
	UT_CASE(error_detail_per_thread),
	UT_CASE(sched_idle_threads))
