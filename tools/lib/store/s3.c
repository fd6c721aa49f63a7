// SPDX-License-Identifier: GPL-2.0
/*
 * The S3 client: libcurl does HTTP and the SigV4 signature; this file
 * builds the requests S3 defines, retries them, and picks the few fields
 * it needs out of the XML answers (store/s3_priv.h; the multipart uploads
 * are store/s3_mpu.c's). libcurl is loaded by cbt_s3_open()
 * (curl_dl.h), so commands that never touch S3 do not load it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/curl_dl.h"
#include "store/s3.h"
#include "store/s3_priv.h"
#include "store/sock.h"
#include "util/util.h"

bool cbt_s3_is_url(const char *url)
{
	return url && !strncmp(url, "s3://", 5);
}

/* Too long is as bad as missing: the field is left empty, and refused later. */
static void copy_field(char *dst, size_t len, const char *src)
{
	size_t l = src ? strlen(src) : 0;

	if (l >= len)
		l = 0;
	memcpy(dst, src ? src : "", l);
	dst[l] = 0;
}

/* "key = value" lines; '#' starts a comment. Not readable by others: it holds a secret. */
static int read_config(struct cbt_s3 *s, const char *path)
{
	char line[1024];
	struct stat st;
	int n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return cbt_err(-errno, "--s3-config %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || (st.st_mode & 077)) {
		fclose(f);
		return cbt_err(-EPERM, "--s3-config %s is readable by others (mode %03o): it holds"
			       " a secret key; chmod 600 it", path, (unsigned int)(st.st_mode & 0777));
	}
	while (fgets(line, sizeof(line), f)) {
		char k[64], v[512];

		n++;
		if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t\n")] == 0)
			continue;
		if (sscanf(line, " %63[a-z_] = %511s", k, v) != 2) {
			fclose(f);
			return cbt_err(-EINVAL, "--s3-config %s: line %d: want KEY = VALUE", path, n);
		}
		if (!strcmp(k, "endpoint"))
			copy_field(s->endpoint, sizeof(s->endpoint), v);
		else if (!strcmp(k, "region"))
			copy_field(s->region, sizeof(s->region), v);
		else if (!strcmp(k, "access_key_id"))
			copy_field(s->access_key, sizeof(s->access_key), v);
		else if (!strcmp(k, "secret_access_key"))
			copy_field(s->secret_key, sizeof(s->secret_key), v);
		else {
			fclose(f);
			return cbt_err(-EINVAL, "--s3-config %s: line %d: unknown key %s (endpoint,"
				       " region, access_key_id, secret_access_key)", path, n, k);
		}
	}
	fclose(f);
	return 0;
}

/* Variable @name: a number up to @max, or @def when unset or empty. */
static int env_u32(const char *name, uint32_t def, uint32_t max, const char *unit, uint32_t *v)
{
	const char *e = getenv(name);

	*v = def;
	if (e && *e && (cbt_parse_u32(e, v) || *v > max))
		return cbt_err(-EINVAL, "%s=%s: 0 to %u%s", name, e, max, unit);
	return 0;
}

int cbt_s3_open(struct cbt_s3 *s, const char *url, const char *config_file)
{
	const char *b = url + 5, *slash;
	const char *e;
	uint32_t n;
	size_t bl;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!cbt_s3_is_url(url))
		return cbt_err(-EINVAL, "%s is not an s3://BUCKET/PREFIX location", url);
	slash = strchr(b, '/');
	bl = slash ? (size_t)(slash - b) : strlen(b);
	if (bl < 3 || bl >= sizeof(s->bucket) || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < bl)
		return cbt_err(-EINVAL, "%s: a bucket name is 3-63 lower-case letters, digits,"
			       " dots and hyphens", url);
	memcpy(s->bucket, b, bl);
	if (slash) {
		const char *p = slash + 1;
		size_t pl = strlen(p);

		while (pl && p[pl - 1] == '/')
			pl--;
		if (pl >= sizeof(s->prefix) ||
		    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") < pl ||
		    strstr(p, "//") || strstr(p, "/./") || strstr(p, "..") || *p == '/')
			return cbt_err(-EINVAL, "%s: a prefix is letters, digits, '.', '_', '-' and"
				       " '/' between names", url);
		memcpy(s->prefix, p, pl);
	}
	if (config_file) {
		ret = read_config(s, config_file);
		if (ret)
			return ret;
	} else {
		copy_field(s->access_key, sizeof(s->access_key), getenv("AWS_ACCESS_KEY_ID"));
		copy_field(s->secret_key, sizeof(s->secret_key), getenv("AWS_SECRET_ACCESS_KEY"));
		copy_field(s->endpoint, sizeof(s->endpoint), getenv("CBT_S3_ENDPOINT"));
		e = getenv("CBT_S3_REGION");
		if (!e || !*e)
			e = getenv("AWS_REGION");
		if (!e || !*e)
			e = getenv("AWS_DEFAULT_REGION");
		copy_field(s->region, sizeof(s->region), e);
	}
	if (!*s->region)
		copy_field(s->region, sizeof(s->region), "us-east-1");
	if (!*s->endpoint)
		snprintf(s->endpoint, sizeof(s->endpoint), "https://s3.%s.amazonaws.com", s->region);
	bl = strlen(s->endpoint);
	while (bl && s->endpoint[bl - 1] == '/')
		s->endpoint[--bl] = 0;
	if (!*s->access_key || !*s->secret_key)
		return cbt_err(-EINVAL, "%s: no S3 credentials: set AWS_ACCESS_KEY_ID and"
			       " AWS_SECRET_ACCESS_KEY, or give --s3-config FILE", url);
	if (strchr(s->access_key, ':') || strspn(s->region, "abcdefghijklmnopqrstuvwxyz0123456789-") <
	    strlen(s->region))
		return cbt_err(-EINVAL, "%s: bad access key id or region", url);
	s->backoff_ms = 200;
	ret = env_u32("CBT_S3_RETRIES", 5, 20, "", &n);
	s->retries = (int)n;
	if (!ret)
		ret = env_u32("CBT_S3_PATIENCE", 600, 86400, " (seconds)", &s->patience_s);
	if (ret)
		return ret;
	return cbt_curl_load(&ret) ? 0 : ret;
}

void cbt_s3_buf_free(struct cbt_s3_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int cbt_s3_buf_add(struct cbt_s3_buf *b, const void *p, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		char *n = realloc(b->p, cap);

		if (!n)
			return -ENOMEM;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = 0;
	return 0;
}

unsigned int cbt_s3_backoff(const struct cbt_s3 *s, int attempt)
{
	unsigned int d = s->backoff_ms;

	for (int i = 1; i < attempt && d < 30000; i++)
		d *= 2;
	return d > 30000 ? 30000 : d;
}

bool cbt_s3_retryable(int curl_code, long http)
{
	switch (curl_code) {
	case CURLE_OK:
		return http >= 500 || http == 429 || http == 408;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (r->http >= 300 || r->http == 0)
		return cbt_s3_buf_add(&r->err, p, len) ? 0 : len;
	if (r->out)
		return cbt_s3_buf_add(r->out, p, len) ? 0 : len;
	if (r->out_fd >= 0) {
		/* A socket whose reader went away: EPIPE, not SIGPIPE. */
		r->write_err = cbt_write_all(r->out_fd, p, len);
		if (r->write_err)
			return 0;
		r->fd_done += len;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;
	unsigned int code;

	if (len > 9 && !strncmp(p, "HTTP/", 5) && sscanf(p, "HTTP/%*s %u", &code) == 1)
		r->http = code;
	if (r->etag && len > 5 && !strncasecmp(p, "ETag:", 5)) {
		const char *v = p + 5;
		size_t vl = len - 5, o = 0;

		while (vl && (*v == ' ' || *v == '"')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == '"'))
			vl--;
		if (vl < r->etag_len) {
			memcpy(r->etag, v, vl);
			o = vl;
		}
		r->etag[o] = 0;
	}
	if (len > 15 && !strncasecmp(p, "Content-Length:", 15))
		r->length = strtoull(p + 15, NULL, 10);
	return len;
}

/*
 * The first element <@tag>...</@tag> from @xml on that ends before @end
 * (NULL: the string's end): its content from *@a to *@b, the close tag.
 * Its open tag may have attributes (S3's <ListPartsResult xmlns="...">).
 * Bounded by @end, a lookup inside a parent element (one <Part>) never
 * takes a field of the next one.
 */
bool cbt_s3_xml_elem(const char *xml, const char *end, const char *tag, const char **a,
		     const char **b)
{
	char close[64];
	size_t tl = strlen(tag);
	const char *o = xml, *c;

	snprintf(close, sizeof(close), "</%s>", tag);
	/* "<Part>" or "<Part ...>", not "<PartNumber>" */
	while (o && (o = strchr(o, '<')) && (strncmp(o + 1, tag, tl) ||
					      !strchr("> \t\r\n", o[1 + tl]) || !o[1 + tl]))
		o++;
	o = o ? strchr(o, '>') : NULL;
	c = o ? strstr(o + 1, close) : NULL;
	if (!c || (end && c + strlen(close) > end))
		return false;
	*a = o + 1;
	*b = c;
	return true;
}

/* The text of the first <@tag>...</@tag> in @xml before @end (NULL: anywhere), into @out. */
bool cbt_s3_xml_field(const char *xml, const char *end, const char *tag, char *out, size_t len)
{
	const char *a, *b;

	if (!cbt_s3_xml_elem(xml, end, tag, &a, &b) || (size_t)(b - a) >= len)
		return false;
	memcpy(out, a, (size_t)(b - a));
	out[b - a] = 0;
	return true;
}

/* @c as UTF-8 at @o: its length (0: not a character). */
static size_t utf8(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return c ? 1 : 0;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		if (c >= 0xd800 && c < 0xe000)
			return 0;
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c > 0x10ffff)
		return 0;
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * The text of the first <@tag> in @xml before @end, XML's escapes undone
 * (S3 escapes '&', '<', '>', quotes and control characters in keys), as
 * long as it is: *@out malloc'd. 1, 0 when there is no such element,
 * -EBADMSG for an escape that is none, -ENOMEM. An escape never takes
 * more bytes than the character it stands for.
 */
int cbt_s3_xml_text(const char *xml, const char *end, const char *tag, char **out)
{
	static const char *const named[] = { "amp;&", "lt;<", "gt;>", "quot;\"", "apos;'" };
	const char *a, *b;
	size_t o = 0;
	char *t;

	*out = NULL;
	if (!cbt_s3_xml_elem(xml, end, tag, &a, &b))
		return 0;
	t = malloc((size_t)(b - a) + 1);
	if (!t)
		return -ENOMEM;
	while (a < b) {
		const char *semi = *a == '&' ? memchr(a, ';', (size_t)(b - a)) : NULL;
		size_t i, l;

		if (*a != '&') {
			t[o++] = *a++;
			continue;
		}
		l = semi ? (size_t)(semi - a) : 0;
		for (i = 0; semi && i < sizeof(named) / sizeof(named[0]); i++)
			if (strlen(named[i]) - 1 == l && !memcmp(a + 1, named[i], l))
				break;
		if (semi && i < sizeof(named) / sizeof(named[0])) {
			t[o++] = named[i][l];
		} else if (l > 2 && l < 10 && a[1] == '#') {
			bool hex = a[2] == 'x';
			const char *d = a + 2 + hex;
			size_t digits = strspn(d, hex ? "0123456789abcdefABCDEF" : "0123456789");
			size_t n = d + digits == semi && digits ?
				   utf8(t + o, strtoul(d, NULL, hex ? 16 : 10)) : 0;

			if (!n)
				break;
			o += n;
		} else {
			break;
		}
		a += l + 1;
	}
	if (a < b) {
		free(t);
		return -EBADMSG;
	}
	t[o] = 0;
	*out = t;
	return 1;
}

/*
 * Not curl_easy_escape(): it encodes '/' too (a key's path would need it
 * per segment), and it is loaded with libcurl (curl_dl.h), which the
 * unit tests of what goes into a URL should not need.
 */
char *cbt_s3_encode(const char *in, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(in) + 1), *o = out;

	for (; out && *in; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	if (out)
		*o = 0;
	return out;
}

static int once(const struct cbt_curl *cu, const struct cbt_s3 *s, struct req *r, CURLcode *cc)
{
	char user[600], sigv4[128], range[80], *url, *key = NULL, *path = NULL;
	struct curl_slist *h = NULL;
	CURL *c;
	int ret = 0;

	/*
	 * The key percent-encoded (a key another tool chose, listed by
	 * ListMultipartUploads, can hold anything): curl signs the path as it
	 * is in the URL, which is then SigV4's canonical URI too. As long as
	 * it takes: a listing's markers make long queries.
	 */
	if (r->name && asprintf(&key, "%s%s%s", s->prefix, *s->prefix && *r->name ? "/" : "",
				r->name) < 0)
		return -ENOMEM;
	if (key)
		path = cbt_s3_encode(key, true);
	free(key);
	if (r->name && !path)
		return -ENOMEM;
	if (asprintf(&url, "%s/%s%s%s%s", s->endpoint, s->bucket, path ? "/" : "", path ? path : "",
		     r->query ? r->query : "") < 0) {
		free(path);
		return -ENOMEM;
	}
	free(path);
	c = cu->easy_init();
	if (!c) {
		free(url);
		return -ENOMEM;
	}
	snprintf(user, sizeof(user), "%s:%s", s->access_key, s->secret_key);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s->region);
	/* S3 servers sign the body as UNSIGNED-PAYLOAD unless told otherwise: say so. */
	h = cu->slist_append(h, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	/*
	 * No "Expect:" or "Content-Type:" to drop curl's own: curl 7.88 signs
	 * such empty headers that it then does not send.
	 */
	if (r->range_len || r->fd_done) {
		if (r->range_len)
			snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64,
				 r->range_off, r->range_off + r->range_len - 1);
		else
			snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", r->fd_done);
		h = cu->slist_append(h, range);
	}
	cu->easy_setopt(c, CURLOPT_URL, url);
	/* A key's "." and ".." segments are names, not a path to tidy up. */
	cu->easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	cu->easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	cu->easy_setopt(c, CURLOPT_USERPWD, user);
	cu->easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled server: less than 1 KiB/s for 60 s ends the attempt. */
	cu->easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	cu->easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	cu->easy_setopt(c, CURLOPT_WRITEDATA, r);
	cu->easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	cu->easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (!strcmp(r->method, "HEAD")) {
		cu->easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (r->body || !strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
		cu->easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		cu->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		cu->easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET")) {
		cu->easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	}
	r->http = 0;
	r->err.len = 0;
	*cc = cu->easy_perform(c);
	if (*cc == CURLE_OK)
		cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http);
	if (r->write_err)
		ret = r->write_err;
	cu->slist_free_all(h);
	cu->easy_cleanup(c);
	free(url);
	return ret;
}

#ifdef CBT_TEST_HOOKS
/* CBT_S3_TRACE=FILE (test builds): one line per attempt, for tests/s3/run to count. */
static void trace(const struct req *r, CURLcode cc)
{
	const char *path = getenv("CBT_S3_TRACE");
	FILE *f = path && *path ? fopen(path, "ae") : NULL;

	if (!f)
		return;
	fprintf(f, "%s %s%s %ld %d\n", r->method, r->name ? r->name : "-", r->query ? r->query : "",
		r->http, (int)cc);
	fclose(f);
}
#else
static void trace(const struct req *r, CURLcode cc)
{
	(void)r;
	(void)cc;
}
#endif

/* Bytes sent to @fd that its reader has not read yet (0 when not a socket). */
static int unread(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQ, &n) ? 0 : n;
}

int cbt_s3_request(const struct cbt_s3 *s, struct req *r)
{
	char code[128], what[1024];
	CURLcode cc = CURLE_OK;
	int ret = 0;
	const struct cbt_curl *cu = cbt_curl_load(&ret);

	if (!cu)
		return ret;
	snprintf(what, sizeof(what), "%s s3://%s/%s%s%s", r->method, s->bucket, s->prefix,
		 r->name && *s->prefix && *r->name ? "/" : "", r->name ? r->name : "");
	for (int attempt = 0; attempt <= s->retries; attempt++) {
		uint64_t done = r->fd_done;

		if (attempt) {
			struct timespec ts;
			unsigned int ms = cbt_s3_backoff(s, attempt);

			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
		if (r->out)
			r->out->len = 0;
		ret = once(cu, s, r, &cc);
		trace(r, cc);
		if (ret)
			break;
		/* A GET streamed to a file descriptor goes on where it stopped. */
		if (r->out_fd >= 0 && r->fd_done > done && cc != CURLE_OK)
			attempt--;
		/*
		 * A stall with our own reader behind (a restore spooling an earlier
		 * image while this one waits) is no fault of the server: wait for
		 * the reader, then go on without counting the attempt.
		 */
		if (r->out_fd >= 0 && cc == CURLE_OPERATION_TIMEDOUT && unread(r->out_fd) > 0) {
			struct pollfd p = { .fd = r->out_fd, .events = POLLOUT };

			poll(&p, 1, -1);
			if (r->fd_done == done)
				attempt--;
			continue;
		}
		if (!cbt_s3_retryable(cc, r->http))
			break;
	}
	/* -ETIMEDOUT: every attempt failed in a way worth retrying (cbt_s3_patient()). */
	if (!ret && cc != CURLE_OK)
		ret = cbt_err(cbt_s3_retryable(cc, 0) ? -ETIMEDOUT : -EIO, "%s: %s (after %d attempts)",
			      what, cu->easy_strerror(cc), s->retries + 1);
	else if (!ret && r->http >= 300) {
		if (!cbt_s3_xml_field(r->err.p, NULL, "Code", code, sizeof(code)))
			snprintf(code, sizeof(code), "HTTP %ld", r->http);
		ret = r->http == 404 ? -ENOENT : r->http == 403 ? -EACCES :
		      cbt_s3_retryable(CURLE_OK, r->http) ? -ETIMEDOUT : -EIO;
		ret = cbt_err(ret, "%s: %s", what, code);
	}
	cbt_s3_buf_free(&r->err);
	return ret;
}

int cbt_s3_put(const struct cbt_s3 *s, const char *name, const void *data, size_t len)
{
	struct req r = cbt_s3_req("PUT", name, NULL);

	r.body = data;
	r.body_len = len;
	return cbt_s3_request(s, &r);
}

int cbt_s3_get(const struct cbt_s3 *s, const char *name, struct cbt_s3_buf *out)
{
	struct req r = cbt_s3_req("GET", name, NULL);

	r.out = out;
	return cbt_s3_request(s, &r);
}

int cbt_s3_get_range(const struct cbt_s3 *s, const char *name, uint64_t off, size_t len,
		     void *buf)
{
	struct cbt_s3_buf b = { 0 };
	struct req r = cbt_s3_req("GET", name, NULL);
	int ret;

	r.out = &b;
	r.range_off = off;
	r.range_len = len;
	ret = len ? cbt_s3_request(s, &r) : 0;
	if (!ret && b.len != len)
		ret = cbt_err(-EIO, "s3://%s/%s/%s: %zu bytes at %" PRIu64 ", got %zu", s->bucket,
			      s->prefix, name, len, off, b.len);
	if (!ret)
		memcpy(buf, b.p, len);
	cbt_s3_buf_free(&b);
	return ret;
}

int cbt_s3_get_to_fd(const struct cbt_s3 *s, const char *name, int fd)
{
	struct req r = cbt_s3_req("GET", name, NULL);

	r.out_fd = fd;
	return cbt_s3_request(s, &r);
}

int cbt_s3_size(const struct cbt_s3 *s, const char *name, uint64_t *size)
{
	struct req r = cbt_s3_req("HEAD", name, NULL);
	int ret = cbt_s3_request(s, &r);

	*size = r.length;
	return ret;
}

int cbt_s3_delete(const struct cbt_s3 *s, const char *name)
{
	struct req r = cbt_s3_req("DELETE", name, NULL);

	return cbt_s3_request(s, &r);
}

bool cbt_s3_patient(const struct cbt_s3 *s, int ret, struct cbt_s3_patience *p, const char *what)
{
	uint64_t now = cbt_mono_ns();
	unsigned int ms;
	struct timespec ts;

	if (ret != -ETIMEDOUT)
		return false;
	if (!p->since_ns)
		p->since_ns = now;
	if (now - p->since_ns >= (uint64_t)s->patience_s * 1000000000ULL)
		return false;
	if (!p->round++) {
		const char *d = cbt_err_detail();

		fprintf(stderr, "cbt: %s: %s; trying again for up to %u s (CBT_S3_PATIENCE)\n", what,
			d ? d : strerror(-ret), s->patience_s);
	}
	ms = cbt_s3_backoff(s, p->round + s->retries);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	cbt_err_clear();
	return true;
}
