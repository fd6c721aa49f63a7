// SPDX-License-Identifier: GPL-2.0
/* util.c: human sizes, strict numbers, UUIDs, the error detail chain. */
#include <errno.h>
#include <pthread.h>

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

UT_MAIN("util",
	UT_CASE(human_sizes),
	UT_CASE(parse_numbers),
	UT_CASE(uuid_format),
	UT_CASE(error_detail_chain),
	UT_CASE(error_detail_truncates),
	UT_CASE(error_detail_per_thread))
