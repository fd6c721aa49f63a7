// SPDX-License-Identifier: GPL-2.0
/*
 * store/s3.c against a fake HTTP server (a thread answering from a script):
 * which answers are retried and how often, the backoff, the configuration
 * checks; store/segment.c's manifest parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "store/s3.h"
#include "store/segment.h"
#include "util/md5.h"
#include "unit.h"
#include "util/util.h"

/* The fake: answers[i] (an HTTP status and body) for request i, the last one repeated. */
struct fake {
	int lsock, port;
	const int *status;
	const char *const *body;
	int nr;
	int requests;		/* served; read after the join */
	int stop_after;
	char line[8][4096];	/* the first 8 requests' first lines, "GET /bucket/... HTTP/1.1" */
	pthread_t th;
};

static void read_request(int c, char *line, size_t len)
{
	char buf[8192];
	size_t have = 0;
	long clen = 0;
	char *end;

	for (;;) {
		ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			return;
		have += (size_t)n;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
	}
	if (line)
		snprintf(line, len, "%.*s", (int)strcspn(buf, "\r\n"), buf);
	{
		char *cl = strcasestr(buf, "Content-Length:");

		if (cl)
			clen = strtol(cl + 15, NULL, 10);
	}
	clen -= (long)(have - (size_t)(end + 4 - buf));
	while (clen > 0) {
		ssize_t n = read(c, buf, sizeof(buf));

		if (n <= 0)
			return;
		clen -= n;
	}
}

static void *fake_thread(void *arg)
{
	struct fake *f = arg;

	for (int i = 0; i < f->stop_after; i++) {
		int c = accept(f->lsock, NULL, NULL), k = i < f->nr ? i : f->nr - 1;
		char hdr[256];

		if (c < 0)
			break;
		if (i < 8)
			read_request(c, f->line[i], sizeof(f->line[i]));
		else
			read_request(c, NULL, 0);
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", f->status[k], strlen(f->body[k]));
		if (write(c, hdr, strlen(hdr)) < 0 || write(c, f->body[k], strlen(f->body[k])) < 0)
			i = f->stop_after;
		close(c);
		f->requests++;
	}
	/* A request past the script is refused, not left waiting for an answer. */
	close(f->lsock);
	return NULL;
}

static int fake_start(struct fake *f, int stop_after)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);

	/* A client that never comes (it refused its own request) fails the case, not hangs it. */
	struct timeval tv = { .tv_sec = 10 };

	f->lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lsock < 0 || setsockopt(f->lsock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(f->lsock, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(f->lsock, 8) || getsockname(f->lsock, (struct sockaddr *)&a, &l))
		return -1;
	f->port = ntohs(a.sin_port);
	f->stop_after = stop_after;
	return pthread_create(&f->th, NULL, fake_thread, f) ? -1 : 0;
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
}

static int open_s3(struct cbt_s3 *s, int port)
{
	char ep[64];

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	setenv("CBT_S3_ENDPOINT", ep, 1);
	setenv("AWS_ACCESS_KEY_ID", "ak", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "sk", 1);
	if (cbt_s3_open(s, "s3://bucket/some/prefix", NULL))
		return -1;
	s->backoff_ms = 1;
	return 0;
}

/* 503, 503, then 200: three requests, the body of the third */
static void retries_5xx_then_succeeds(void)
{
	static const int st[] = { 503, 503, 200 };
	static const char *const body[] = { "<Error><Code>SlowDown</Code></Error>", "", "hello" };
	struct fake f = { .status = st, .body = body, .nr = 3 };
	struct cbt_s3_buf b = { 0 };
	struct cbt_s3 s;

	CHECK_EQ(fake_start(&f, 3), 0);
	CHECK_EQ(open_s3(&s, f.port), 0);
	CHECK_EQ(cbt_s3_get(&s, "obj", &b), 0);
	fake_stop(&f);
	CHECK_EQ(f.requests, 3);
	CHECK(b.len == 5 && !memcmp(b.p, "hello", 5));
	cbt_s3_buf_free(&b);
}

/* a 404 is an answer, not a failure to retry: one request, -ENOENT with S3's code */
static void no_retry_on_404(void)
{
	static const int st[] = { 404 };
	static const char *const body[] = { "<Error><Code>NoSuchKey</Code></Error>" };
	struct fake f = { .status = st, .body = body, .nr = 1 };
	struct cbt_s3_buf b = { 0 };
	struct cbt_s3 s;

	CHECK_EQ(fake_start(&f, 1), 0);
	CHECK_EQ(open_s3(&s, f.port), 0);
	CHECK_ERR(cbt_s3_get(&s, "obj", &b), -ENOENT, "NoSuchKey");
	fake_stop(&f);
	CHECK_EQ(f.requests, 1);
	cbt_s3_buf_free(&b);
}

/* a server that keeps failing: 1 + retries requests, then -ETIMEDOUT (transient) naming the code */
static void gives_up_after_retries(void)
{
	static const int st[] = { 500 };
	static const char *const body[] = { "<Error><Code>InternalError</Code></Error>" };
	struct fake f = { .status = st, .body = body, .nr = 1 };
	struct cbt_s3 s;

	CHECK_EQ(fake_start(&f, 3), 0);
	CHECK_EQ(open_s3(&s, f.port), 0);
	s.retries = 2;
	CHECK_ERR(cbt_s3_put(&s, "obj", "x", 1), -ETIMEDOUT, "InternalError");
	fake_stop(&f);
	CHECK_EQ(f.requests, 3);
}

/* nobody listening: retried, then -ETIMEDOUT saying so */
static void connection_refused_retried(void)
{
	struct fake f = { 0 };
	struct cbt_s3 s;

	/* a port that was just free */
	CHECK_EQ(fake_start(&f, 0), 0);
	fake_stop(&f);
	CHECK_EQ(open_s3(&s, f.port), 0);
	s.retries = 1;
	CHECK_ERR(cbt_s3_put(&s, "obj", "x", 1), -ETIMEDOUT, "after 2 attempts");
}

static void backoff_doubles_and_caps(void)
{
	struct cbt_s3 s = { .backoff_ms = 200 };

	CHECK_EQ(cbt_s3_backoff(&s, 1), 200u);
	CHECK_EQ(cbt_s3_backoff(&s, 2), 400u);
	CHECK_EQ(cbt_s3_backoff(&s, 4), 1600u);
	CHECK_EQ(cbt_s3_backoff(&s, 20), 30000u);
	CHECK(cbt_s3_retryable(0, 503) && cbt_s3_retryable(0, 429) && !cbt_s3_retryable(0, 403));
	CHECK(!cbt_s3_retryable(0, 200) && !cbt_s3_retryable(0, 404));
}

static void config_checks(void)
{
	char path[] = "/tmp/cbt-s3cfg-XXXXXX";
	struct cbt_s3 s;
	FILE *f;
	int fd;

	CHECK_ERR(cbt_s3_open(&s, "s3://Bad_Bucket/x", NULL), -EINVAL, "bucket name");
	CHECK_ERR(cbt_s3_open(&s, "s3://bucket/../x", NULL), -EINVAL, "prefix");
	unsetenv("AWS_ACCESS_KEY_ID");
	CHECK_ERR(cbt_s3_open(&s, "s3://bucket/x", NULL), -EINVAL, "no S3 credentials");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	CHECK(f);
	fputs("# test\nendpoint = http://h:1\naccess_key_id = a\nsecret_access_key = b\n", f);
	fclose(f);
	chmod(path, 0644);
	CHECK_ERR(cbt_s3_open(&s, "s3://bucket/x", path), -EPERM, "readable by others");
	chmod(path, 0600);
	CHECK_EQ(cbt_s3_open(&s, "s3://bucket/x/", path), 0);
	CHECK_STR(s.endpoint, "http://h:1");
	CHECK_STR(s.prefix, "x");
	CHECK_STR(s.region, "us-east-1");
	unlink(path);
	cbt_err_clear();
}

static void manifest_parse(void)
{
	static const char good[] = CBT_SEG_MAGIC
		"segment a.cbti.0000 1048576 00000000000000ff\n"
		"segment a.cbti.0001 10 0000000000000001\n"
		"end 2 1048586\n";
	static const char renamed[] = CBT_SEG_MAGIC
		"segment ../x.0000 10 0000000000000001\nend 1 10\n";
	static const char gap[] = CBT_SEG_MAGIC
		"segment a.cbti.0001 10 0000000000000001\nend 1 10\n";
	static const char total[] = CBT_SEG_MAGIC
		"segment a.cbti.0000 10 0000000000000001\nend 1 11\n";
	static const char noend[] = CBT_SEG_MAGIC
		"segment a.cbti.0000 10 0000000000000001\n";
	struct cbt_seg_manifest m;

	CHECK_EQ(cbt_seg_manifest_parse(good, strlen(good), "a.cbti", "a", &m), 0);
	CHECK(m.nr == 2 && m.size == 1048586 && m.v[0].sum == 0xff && m.v[1].size == 10);
	cbt_seg_manifest_free(&m);
	CHECK_ERR(cbt_seg_manifest_parse(renamed, strlen(renamed), "a.cbti", "a", &m), -EBADMSG,
		  "line 2");
	CHECK_ERR(cbt_seg_manifest_parse(gap, strlen(gap), "a.cbti", "a", &m), -EBADMSG, "line 2");
	CHECK_ERR(cbt_seg_manifest_parse(total, strlen(total), "a.cbti", "a", &m), -EBADMSG,
		  "line 3");
	CHECK_ERR(cbt_seg_manifest_parse(noend, strlen(noend), "a.cbti", "a", &m), -EBADMSG,
		  "incomplete");
	cbt_err_clear();
}

/* a 403 fails at once: one request, -EACCES, not worth patience */
static void forbidden_not_transient(void)
{
	static const int st[] = { 403 };
	static const char *const body[] = { "<Error><Code>AccessDenied</Code></Error>" };
	struct fake f = { .status = st, .body = body, .nr = 1 };
	struct cbt_s3_patience p = { 0 };
	struct cbt_s3 s;
	int ret;

	CHECK_EQ(fake_start(&f, 1), 0);
	CHECK_EQ(open_s3(&s, f.port), 0);
	ret = cbt_s3_put(&s, "obj", "x", 1);
	fake_stop(&f);
	CHECK_EQ(ret, -EACCES);
	CHECK(!cbt_s3_patient(&s, ret, &p, "t"));
	CHECK_EQ(f.requests, 1);
	cbt_err_clear();
}

/* patience: only -ETIMEDOUT, only within patience_s of the first failure */
static void patience_bounded(void)
{
	struct cbt_s3 s = { .backoff_ms = 1, .retries = 0, .patience_s = 1 };
	struct cbt_s3_patience p = { 0 };

	char said[256] = "";
	FILE *err = tmpfile();
	int saved = dup(STDERR_FILENO);

	CHECK(err && saved >= 0);
	CHECK(!cbt_s3_patient(&s, -EIO, &p, "t"));
	/* said once, on stderr: caught here */
	fflush(stderr);
	dup2(fileno(err), STDERR_FILENO);
	CHECK(cbt_s3_patient(&s, -ETIMEDOUT, &p, "s3://b/p"));
	CHECK(cbt_s3_patient(&s, -ETIMEDOUT, &p, "s3://b/p"));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(err);
	CHECK_EQ(fread(said, 1, sizeof(said) - 1, err) > 0, true);
	fclose(err);
	CHECK(strstr(said, "s3://b/p: ") && strstr(said, "trying again for up to 1 s (CBT_S3_PATIENCE)"));
	CHECK(!strstr(strstr(said, "trying again") + 1, "trying again"));
	CHECK_EQ(p.round, 2);
	p.since_ns -= 1000000001ULL;
	CHECK(!cbt_s3_patient(&s, -ETIMEDOUT, &p, "t"));
	s.patience_s = 0;
	p = (struct cbt_s3_patience){ 0 };
	CHECK(!cbt_s3_patient(&s, -ETIMEDOUT, &p, "t"));
	setenv("CBT_S3_PATIENCE", "86401", 1);
	CHECK_ERR(cbt_s3_open(&s, "s3://bucket/x", NULL), -EINVAL, "CBT_S3_PATIENCE");
	setenv("CBT_S3_PATIENCE", "5", 1);
	CHECK_EQ(cbt_s3_open(&s, "s3://bucket/x", NULL), 0);
	CHECK_EQ(s.patience_s, 5u);
	unsetenv("CBT_S3_PATIENCE");
	CHECK_EQ(cbt_s3_open(&s, "s3://bucket/x", NULL), 0);
	CHECK_EQ(s.patience_s, 600u);
	cbt_err_clear();
}

/*
 * cbt_s3_mpu_list() of upload "2~id/x" against a fake server answering
 * 200 with @body[0..@pages-1] in turn: the ETags in *@e, their count in
 * *@nr, what the server saw in @f.
 */
static int list_parts_from(struct fake *f, const char *const *body, int pages,
			   char (**e)[80], int *nr)
{
	static const int ok[] = { 200, 200, 200, 200 };
	struct cbt_s3 s;
	int ret;

	*f = (struct fake){ .status = ok, .body = body, .nr = pages };
	if (fake_start(f, pages))
		return -1;
	ret = open_s3(&s, f->port);
	if (!ret)
		ret = cbt_s3_mpu_list(&s, "obj", "2~id/x", e, nr);
	fake_stop(f);
	return ret;
}

/* ListParts: two pages (the first as S3 sends it, with its xmlns), ETags quoted either way, a part missing in between */
static void list_parts_pages(void)
{
	static const char *const body[] = {
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<IsTruncated>true</IsTruncated>"
		"<NextPartNumberMarker>1</NextPartNumberMarker>"
		"<Part><PartNumber>1</PartNumber><ETag>&quot;0123456789abcdef0123456789abcdef&quot;"
		"</ETag><Size>8</Size></Part></ListPartsResult>",
		"<ListPartsResult><IsTruncated>false</IsTruncated>"
		"<Part><PartNumber>3</PartNumber><ETag>\"fedcba9876543210fedcba9876543210\"</ETag>"
		"</Part></ListPartsResult>" };
	char (*e)[80] = NULL;
	struct fake f;
	int nr = 0;

	CHECK_EQ(list_parts_from(&f, body, 2, &e, &nr), 0);
	CHECK_EQ(f.requests, 2);
	CHECK_STR(f.line[0], "GET /bucket/some/prefix/obj?part-number-marker=0&uploadId=2~id%2Fx HTTP/1.1");
	CHECK_STR(f.line[1], "GET /bucket/some/prefix/obj?part-number-marker=1&uploadId=2~id%2Fx HTTP/1.1");
	CHECK_EQ(nr, 3);
	CHECK_STR(e[0], "0123456789abcdef0123456789abcdef");
	CHECK_STR(e[1], "");
	CHECK_STR(e[2], "fedcba9876543210fedcba9876543210");
	free(e);
}

/*
 * ListParts: each <Part>'s fields come from that <Part>. Part 1 has no
 * ETag (the server does not hold its bytes): "", not part 2's ETag.
 */
static void list_parts_fields_scoped(void)
{
	static const char *const body[] = {
		"<ListPartsResult><IsTruncated>false</IsTruncated>"
		"<Part><PartNumber>1</PartNumber><Size>8</Size></Part>"
		"<Part><PartNumber>2</PartNumber><ETag>\"22222222222222222222222222222222\"</ETag></Part>"
		"<Part><ETag>\"33333333333333333333333333333333\"</ETag></Part>"
		"</ListPartsResult>" };
	char (*e)[80] = NULL;
	struct fake f;
	int nr = 0;

	CHECK_EQ(list_parts_from(&f, body, 1, &e, &nr), 0);
	CHECK_EQ(f.requests, 1);
	CHECK_EQ(nr, 2);
	CHECK_STR(e[0], "");
	CHECK_STR(e[1], "22222222222222222222222222222222");
	free(e);
}

/*
 * ListParts: more parts follow (IsTruncated) after a NextPartNumberMarker
 * that is no part number (1 to 10000) past the last one, or none: the
 * listing fails saying so, after that one request. Taken as the last page
 * (as a marker of 16 characters or more was), the parts after it would
 * silently count as not held; sent on, it would ask for the wrong page.
 */
static void list_parts_bad_marker_refused(void)
{
	static const struct {
		const char *marker;	/* the element, NULL: none */
		const char *said;
	} bad[] = {
		{ "1000000000000000", "NextPartNumberMarker \"1000000000000000\" is not a part number" },
		{ "123456", "NextPartNumberMarker \"123456\" is not a part number" },
		{ "10001", "NextPartNumberMarker \"10001\" is not a part number" },
		{ "0", "NextPartNumberMarker \"0\" is not a part number" },
		{ "1 2&x=y", "NextPartNumberMarker \"1 2&x=y\" is not a part number" },
		{ "", "NextPartNumberMarker \"\" is not a part number" },
		{ NULL, "more parts follow but no NextPartNumberMarker" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char page[512];
		const char *body[] = { page };
		char (*e)[80] = NULL;
		struct fake f;
		int nr = 0;

		snprintf(page, sizeof(page), "<ListPartsResult><IsTruncated>true</IsTruncated>%s%s%s"
			 "<Part><PartNumber>1</PartNumber><ETag>\"11111111111111111111111111111111\""
			 "</ETag></Part></ListPartsResult>",
			 bad[i].marker ? "<NextPartNumberMarker>" : "",
			 bad[i].marker ? bad[i].marker : "", bad[i].marker ? "</NextPartNumberMarker>" : "");
		CHECK_ERR(list_parts_from(&f, body, 1, &e, &nr), -EBADMSG, bad[i].said);
		CHECK_EQ(f.requests, 1);
		CHECK(!e && !nr);
		CHECK(strstr(ut_detail(), "s3://bucket/some/prefix/obj: ListParts"));
	}
	cbt_err_clear();
}

/*
 * ListParts: a <Part> whose PartNumber or ETag does not fit (longer than
 * any part number or ETag), or whose PartNumber is no part number (1 to
 * 10000): the listing is refused, saying which, not the part skipped (it
 * would be uploaded again, as if the server did not hold it) nor its ETag
 * cut short (it would then differ from ours: uploaded again too).
 */
static void list_parts_bad_part_refused(void)
{
	static char long_etag[200], quoted_etag[200];
	static const struct {
		const char *num, *etag, *said;
	} bad[] = {
		{ "00000000000000001", "\"1\"", "a <Part> whose PartNumber is longer than 15 bytes" },
		{ "1", long_etag, "a <Part> whose ETag is longer than" },
		{ "1", quoted_etag, "a <Part> whose ETag is longer than 79 bytes" },
		{ "10001", "\"1\"", "a <Part> whose PartNumber \"10001\" is not a part number (1 to 10000)" },
		{ "0", "\"1\"", "a <Part> whose PartNumber \"0\" is not a part number" },
		{ "1x", "\"1\"", "a <Part> whose PartNumber \"1x\" is not a part number" },
		{ "", "\"1\"", "a <Part> whose PartNumber \"\" is not a part number" },
	};

	memset(long_etag, 'e', 120);
	/* fits a buffer of 90 with its quotes: cut to 79 before */
	snprintf(quoted_etag, sizeof(quoted_etag), "\"%085d\"", 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char page[1024];
		const char *body[] = { page };
		char (*e)[80] = NULL;
		struct fake f;
		int nr = 0;

		snprintf(page, sizeof(page), "<ListPartsResult><IsTruncated>false</IsTruncated>"
			 "<Part><PartNumber>2</PartNumber><ETag>\"22222222222222222222222222222222\""
			 "</ETag></Part><Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>"
			 "</ListPartsResult>", bad[i].num, bad[i].etag);
		CHECK_ERR(list_parts_from(&f, body, 1, &e, &nr), -EBADMSG, bad[i].said);
		CHECK_EQ(f.requests, 1);
		CHECK(!e && !nr);
		CHECK(strstr(ut_detail(), "s3://bucket/some/prefix/obj: ListParts: "));
	}
	cbt_err_clear();
}

/* ListParts: a server answering the same page again (marker 1 after marker 1) is refused, not asked for ever */
static void list_parts_marker_must_advance(void)
{
#define PAGE1 "<ListPartsResult><IsTruncated>true</IsTruncated>"				\
	"<NextPartNumberMarker>1</NextPartNumberMarker>"					\
	"<Part><PartNumber>1</PartNumber><ETag>\"11111111111111111111111111111111\"</ETag></Part>"	\
	"</ListPartsResult>"
	static const char *const body[] = { PAGE1, PAGE1 };
#undef PAGE1
	char (*e)[80] = NULL;
	struct fake f;
	int nr = 0;

	CHECK_ERR(list_parts_from(&f, body, 2, &e, &nr), -EBADMSG,
		  "NextPartNumberMarker \"1\" is not a part number after 1");
	CHECK_EQ(f.requests, 2);
	CHECK_STR(f.line[1], "GET /bucket/some/prefix/obj?part-number-marker=1&uploadId=2~id%2Fx HTTP/1.1");
	CHECK(!e && !nr);
	cbt_err_clear();
}

/*
 * cbt_s3_mpu_abort_all() against a fake server answering @st[i], @body[i]
 * to request i (the last of @nr repeated) for @requests requests: its
 * result, what the server saw in @f.
 */
static int abort_all_from(struct fake *f, const int *st, const char *const *body, int nr,
			  int requests)
{
	struct cbt_s3 s;
	int ret;

	*f = (struct fake){ .status = st, .body = body, .nr = nr };
	if (fake_start(f, requests))
		return -1;
	ret = open_s3(&s, f->port);
	if (!ret)
		ret = cbt_s3_mpu_abort_all(&s, NULL, NULL);
	fake_stop(f);
	return ret;
}

/*
 * ListMultipartUploads: an <Upload> without an UploadId is skipped, not
 * aborted under the next one's id; the next is aborted, its record
 * deleted.
 */
static void abort_all_fields_scoped(void)
{
	static const int st[] = { 200, 204 };
	static const char *const body[] = {
		"<ListMultipartUploadsResult>"
		"<Upload><Key>some/prefix/a</Key></Upload>"
		"<Upload><Key>some/prefix/b</Key><UploadId>id-b</UploadId></Upload>"
		"</ListMultipartUploadsResult>", "" };
	struct fake f;

	CHECK_EQ(abort_all_from(&f, st, body, 2, 3), 1);
	CHECK_EQ(f.requests, 3);
	CHECK_STR(f.line[1], "DELETE /bucket/some/prefix/b?uploadId=id-b HTTP/1.1");
	CHECK_STR(f.line[2], "DELETE /bucket/some/prefix/.upload-b HTTP/1.1");
}

/*
 * ListMultipartUploads: a listing in pages (IsTruncated), each page's
 * uploads aborted, the next page asked after NextKeyMarker and
 * NextUploadIdMarker, whatever their length (a key is up to 1024 bytes,
 * an upload id has no documented bound), XML's escapes undone and the
 * query's added. Not one page and silence: uploads past the first 1000
 * would be left unfinished, costing storage.
 */
static void abort_all_pages(void)
{
	static char page1[4096], query[8192];
	static const int st[] = { 200, 204, 204, 200, 204, 204 };
	static const char *const body[] = { page1, "", "",
		"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
		"<Upload><Key>some/prefix/b</Key><UploadId>id-b</UploadId></Upload>"
		"</ListMultipartUploadsResult>", "", "" };
	char key[1100], id[700];
	struct fake f;

	/* a key of 1016 bytes ending "&xAB" (escaped "&amp;x&#65;&#x42;"), an upload id of 600 */
	snprintf(key, sizeof(key), "some/prefix/%01000d", 0);
	memset(id, 'I', 600);
	id[600] = 0;
	snprintf(page1, sizeof(page1), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		 "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		 "<Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
		 "<NextKeyMarker>%s&amp;x&#65;&#x42;</NextKeyMarker><NextUploadIdMarker>%s</NextUploadIdMarker>"
		 "<MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>"
		 "<Upload><Key>some/prefix/a</Key><UploadId>id-a</UploadId></Upload>"
		 "</ListMultipartUploadsResult>", key, id);
	snprintf(query, sizeof(query), "GET /bucket?key-marker=some%%2Fprefix%%2F%01000d%%26xAB"
		 "&prefix=some%%2Fprefix%%2F&upload-id-marker=%s&uploads= HTTP/1.1", 0, id);
	CHECK_EQ(abort_all_from(&f, st, body, 6, 6), 2);
	CHECK_EQ(f.requests, 6);
	CHECK_STR(f.line[0], "GET /bucket?prefix=some%2Fprefix%2F&uploads= HTTP/1.1");
	CHECK_STR(f.line[1], "DELETE /bucket/some/prefix/a?uploadId=id-a HTTP/1.1");
	CHECK_STR(f.line[3], query);
	CHECK_STR(f.line[4], "DELETE /bucket/some/prefix/b?uploadId=id-b HTTP/1.1");
	CHECK_STR(f.line[5], "DELETE /bucket/some/prefix/.upload-b HTTP/1.1");
}

/*
 * Keys another tool chose, under our prefix: a space, '+', '&', '%', '=',
 * '?', '#' and UTF-8, a "." and ".." segment. Each goes into the URL's
 * path percent-encoded (RFC 3986's unreserved characters and '/' as they
 * are, every other byte %XX in upper case, what SigV4's canonical URI
 * wants, which curl signs from the URL), the dot segments as they are
 * (S3 keys, not a path to normalize). Before: the raw key went into the
 * URL, so the DELETE hit another object, or no URL at all.
 */
static void abort_all_keys_encoded(void)
{
	static const int st[] = { 200, 204 };
	static const char *const body[] = {
		"<ListMultipartUploadsResult>"
		"<Upload><Key>some/prefix/a b+c&amp;d%e=f?g#h\xc3\xa9~_.-</Key><UploadId>id a</UploadId></Upload>"
		"<Upload><Key>some/prefix/x/./y/../z</Key><UploadId>id-b</UploadId></Upload>"
		"</ListMultipartUploadsResult>", "" };
	struct fake f;

	CHECK_EQ(abort_all_from(&f, st, body, 2, 4), 2);
	CHECK_EQ(f.requests, 4);
	CHECK_STR(f.line[1], "DELETE /bucket/some/prefix/a%20b%2Bc%26d%25e%3Df%3Fg%23h%C3%A9~_.-"
		  "?uploadId=id%20a HTTP/1.1");
	CHECK_STR(f.line[2], "DELETE /bucket/some/prefix/.upload-a%20b%2Bc%26d%25e%3Df%3Fg%23h%C3%A9~_.-"
		  " HTTP/1.1");
	CHECK_STR(f.line[3], "DELETE /bucket/some/prefix/x/./y/../z?uploadId=id-b HTTP/1.1");
}

/*
 * ListMultipartUploads: more uploads follow but no NextKeyMarker, the
 * same markers as the page before, or a marker with a malformed escape:
 * refused, saying so, not taken as the end nor asked for ever.
 */
static void abort_all_bad_markers_refused(void)
{
#define TRUNC(markers) "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>" markers \
	"</ListMultipartUploadsResult>"
	static const struct {
		const char *page[2];
		int pages;
		const char *said;
	} bad[] = {
		{ { TRUNC("") }, 1, "more uploads follow but no NextKeyMarker" },
		{ { TRUNC("<NextKeyMarker></NextKeyMarker><NextUploadIdMarker>i</NextUploadIdMarker>") },
		  1, "more uploads follow but no NextKeyMarker" },
		{ { TRUNC("<NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>i</NextUploadIdMarker>"),
		    TRUNC("<NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>i</NextUploadIdMarker>") },
		  2, "the same NextKeyMarker \"k\" and NextUploadIdMarker \"i\" again" },
		{ { TRUNC("<NextKeyMarker>k&bogus;</NextKeyMarker>") }, 1, "a malformed escape" },
		{ { TRUNC("<NextKeyMarker>k&#0;</NextKeyMarker>") }, 1, "a malformed escape" },
		{ { TRUNC("<NextKeyMarker>k&#x;</NextKeyMarker>") }, 1, "a malformed escape" },
		{ { TRUNC("<NextKeyMarker>k&amp</NextKeyMarker>") }, 1, "a malformed escape" },
	};
#undef TRUNC
	static const int st[] = { 200, 200 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake f;

		CHECK_ERR(abort_all_from(&f, st, bad[i].page, bad[i].pages, bad[i].pages), -EBADMSG,
			  bad[i].said);
		CHECK_EQ(f.requests, bad[i].pages);
		CHECK(strstr(ut_detail(), "s3://bucket/some/prefix: ListMultipartUploads: "));
	}
	cbt_err_clear();
}

/* RFC 1321's test suite, and the padding edges (55, 56, 64 bytes) */
static void md5_vectors(void)
{
	char h[33], buf[200];

	cbt_md5_hex("", 0, h);
	CHECK_STR(h, "d41d8cd98f00b204e9800998ecf8427e");
	cbt_md5_hex("abc", 3, h);
	CHECK_STR(h, "900150983cd24fb0d6963f7d28e17f72");
	cbt_md5_hex("message digest", 14, h);
	CHECK_STR(h, "f96b697d7cb7938d525a2f31aaf161d0");
	snprintf(buf, sizeof(buf), "%s", "1234567890123456789012345678901234567890"
		 "1234567890123456789012345678901234567890");
	cbt_md5_hex(buf, 80, h);
	CHECK_STR(h, "57edf4a22be3c955ac49da2e2107b67a");
	memset(buf, 'a', sizeof(buf));
	cbt_md5_hex(buf, 55, h);
	CHECK_STR(h, "ef1772b6dff9a122358552954ad0df65");
	cbt_md5_hex(buf, 56, h);
	CHECK_STR(h, "3b0c8ac703f828b04c6c197006d17218");
	cbt_md5_hex(buf, 64, h);
	CHECK_STR(h, "014842d480b571495a4a0363793f7367");
}

UT_MAIN("s3",
	UT_CASE(retries_5xx_then_succeeds),
	UT_CASE(no_retry_on_404),
	UT_CASE(gives_up_after_retries),
	UT_CASE(connection_refused_retried),
	UT_CASE(backoff_doubles_and_caps),
	UT_CASE(config_checks),
	UT_CASE(manifest_parse),
	UT_CASE(forbidden_not_transient),
	UT_CASE(patience_bounded),
	UT_CASE(list_parts_pages),
	UT_CASE(list_parts_fields_scoped),
	UT_CASE(list_parts_bad_marker_refused),
	UT_CASE(list_parts_marker_must_advance),
	UT_CASE(list_parts_bad_part_refused),
	UT_CASE(abort_all_fields_scoped),
	UT_CASE(abort_all_pages),
	UT_CASE(abort_all_keys_encoded),
	UT_CASE(abort_all_bad_markers_refused),
	UT_CASE(md5_vectors))
