// SPDX-License-Identifier: GPL-2.0
/*
 * The S3 client: libcurl does HTTP and the SigV4 signature; this file
 * builds the requests S3 defines, retries them, and picks the few fields
 * it needs out of the XML answers. libcurl is loaded by cbt_s3_open()
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

static int buf_add(struct cbt_s3_buf *b, const void *p, size_t len)
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

struct req {
	const char *method;
	const char *name;
	const char *query;
	const char *body;
	size_t body_len;
	struct cbt_s3_buf *out;		/* the answer's body, or */
	int out_fd;			/* streamed here (-1: neither) */
	uint64_t fd_done;		/* bytes already written to out_fd */
	uint64_t range_off;		/* with range_len: a byte range */
	size_t range_len;
	char *etag;			/* the ETag header, quotes dropped */
	size_t etag_len;
	uint64_t length;		/* Content-Length (HEAD) */
	long http;
	struct cbt_s3_buf err;		/* the body of an error answer */
	int write_err;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (r->http >= 300 || r->http == 0)
		return buf_add(&r->err, p, len) ? 0 : len;
	if (r->out)
		return buf_add(r->out, p, len) ? 0 : len;
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
static bool xml_elem(const char *xml, const char *end, const char *tag, const char **a,
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
static bool xml_field(const char *xml, const char *end, const char *tag, char *out, size_t len)
{
	const char *a, *b;

	if (!xml_elem(xml, end, tag, &a, &b) || (size_t)(b - a) >= len)
		return false;
	memcpy(out, a, (size_t)(b - a));
	out[b - a] = 0;
	return true;
}

static int once(const struct cbt_curl *cu, const struct cbt_s3 *s, struct req *r, CURLcode *cc)
{
	char url[2048], user[600], sigv4[128], range[80];
	struct curl_slist *h = NULL;
	CURL *c = cu->easy_init();
	int ret = 0;

	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/%s%s%s%s%s%s", s->endpoint, s->bucket,
		 r->name ? "/" : "", r->name && *s->prefix ? s->prefix : "",
		 r->name && *s->prefix && *r->name ? "/" : "", r->name ? r->name : "",
		 r->query ? r->query : "");
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

static int request(const struct cbt_s3 *s, struct req *r)
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
		if (!xml_field(r->err.p, NULL, "Code", code, sizeof(code)))
			snprintf(code, sizeof(code), "HTTP %ld", r->http);
		ret = r->http == 404 ? -ENOENT : r->http == 403 ? -EACCES :
		      cbt_s3_retryable(CURLE_OK, r->http) ? -ETIMEDOUT : -EIO;
		ret = cbt_err(ret, "%s: %s", what, code);
	}
	cbt_s3_buf_free(&r->err);
	return ret;
}

static struct req new_req(const char *method, const char *name, const char *query)
{
	struct req r = { .method = method, .name = name, .query = query, .out_fd = -1 };

	return r;
}

int cbt_s3_put(const struct cbt_s3 *s, const char *name, const void *data, size_t len)
{
	struct req r = new_req("PUT", name, NULL);

	r.body = data;
	r.body_len = len;
	return request(s, &r);
}

int cbt_s3_get(const struct cbt_s3 *s, const char *name, struct cbt_s3_buf *out)
{
	struct req r = new_req("GET", name, NULL);

	r.out = out;
	return request(s, &r);
}

int cbt_s3_get_range(const struct cbt_s3 *s, const char *name, uint64_t off, size_t len,
		     void *buf)
{
	struct cbt_s3_buf b = { 0 };
	struct req r = new_req("GET", name, NULL);
	int ret;

	r.out = &b;
	r.range_off = off;
	r.range_len = len;
	ret = len ? request(s, &r) : 0;
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
	struct req r = new_req("GET", name, NULL);

	r.out_fd = fd;
	return request(s, &r);
}

int cbt_s3_size(const struct cbt_s3 *s, const char *name, uint64_t *size)
{
	struct req r = new_req("HEAD", name, NULL);
	int ret = request(s, &r);

	*size = r.length;
	return ret;
}

int cbt_s3_delete(const struct cbt_s3 *s, const char *name)
{
	struct req r = new_req("DELETE", name, NULL);

	return request(s, &r);
}

int cbt_s3_mpu_start(const struct cbt_s3 *s, const char *name, char *upload_id, size_t len)
{
	struct cbt_s3_buf b = { 0 };
	struct req r = new_req("POST", name, "?uploads=");
	int ret;

	r.out = &b;
	ret = request(s, &r);
	if (!ret && !xml_field(b.p, NULL, "UploadId", upload_id, len))
		ret = cbt_err(-EIO, "s3://%s/%s/%s: no UploadId in the answer", s->bucket,
			      s->prefix, name);
	cbt_s3_buf_free(&b);
	return ret;
}

/* Upload ids are opaque: percent-encode what is not unreserved. */
static void encode(char *out, size_t len, const char *in)
{
	size_t o = 0;

	for (; *in && o + 4 < len; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, len - o, "%%%02X", ch);
	}
	out[o] = 0;
}

int cbt_s3_mpu_part(const struct cbt_s3 *s, const char *name, const char *upload_id, int n,
		    const void *data, size_t len, char *etag, size_t etag_len)
{
	char q[600], id[512];
	struct req r;

	encode(id, sizeof(id), upload_id);
	snprintf(q, sizeof(q), "?partNumber=%d&uploadId=%s", n, id);
	r = new_req("PUT", name, q);
	r.body = data;
	r.body_len = len;
	r.etag = etag;
	r.etag_len = etag_len;
	etag[0] = 0;
	return request(s, &r);
}

int cbt_s3_mpu_complete(const struct cbt_s3 *s, const char *name, const char *upload_id,
			char (*etags)[80], int nr)
{
	struct cbt_s3_buf body = { 0 }, out = { 0 };
	char q[600], id[512], part[200];
	struct req r;
	int ret = buf_add(&body, "<CompleteMultipartUpload>", 25);

	for (int i = 0; !ret && i < nr; i++) {
		int l = snprintf(part, sizeof(part), "<Part><PartNumber>%d</PartNumber>"
				 "<ETag>\"%s\"</ETag></Part>", i + 1, etags[i]);

		ret = buf_add(&body, part, (size_t)l);
	}
	if (!ret)
		ret = buf_add(&body, "</CompleteMultipartUpload>", 26);
	if (ret) {
		cbt_s3_buf_free(&body);
		return ret;
	}
	encode(id, sizeof(id), upload_id);
	snprintf(q, sizeof(q), "?uploadId=%s", id);
	r = new_req("POST", name, q);
	r.body = body.p;
	r.body_len = body.len;
	r.out = &out;
	ret = request(s, &r);
	/* The answer can be 200 with an error inside. */
	if (!ret && out.p && strstr(out.p, "<Error>")) {
		char code[128] = "Error";

		xml_field(out.p, NULL, "Code", code, sizeof(code));
		ret = cbt_err(-EIO, "completing the upload of s3://%s/%s/%s: %s", s->bucket,
			      s->prefix, name, code);
	}
	cbt_s3_buf_free(&body);
	cbt_s3_buf_free(&out);
	return ret;
}

int cbt_s3_mpu_abort(const struct cbt_s3 *s, const char *name, const char *upload_id)
{
	char q[600], id[512];
	struct req r;

	encode(id, sizeof(id), upload_id);
	snprintf(q, sizeof(q), "?uploadId=%s", id);
	r = new_req("DELETE", name, q);
	return request(s, &r);
}

int cbt_s3_mpu_abort_all(const struct cbt_s3 *s, const char *keep_name, const char *keep_id)
{
	struct cbt_s3_buf b = { 0 };
	char q[700], pfx[600];
	struct req r;
	int ret, n = 0;
	const char *p, *up;

	snprintf(q, sizeof(q), "%s/", s->prefix);
	encode(pfx, sizeof(pfx), *s->prefix ? q : "");
	snprintf(q, sizeof(q), "?prefix=%s&uploads=", pfx);
	r = new_req("GET", NULL, q);
	r.out = &b;
	ret = request(s, &r);
	for (p = b.p; !ret && xml_elem(p, NULL, "Upload", &up, &p);) {
		char key[1100], id[400], rec[1200];
		size_t pl = *s->prefix ? strlen(s->prefix) + 1 : 0;
		bool mine;

		if (!xml_field(up, p, "Key", key, sizeof(key)) ||
		    !xml_field(up, p, "UploadId", id, sizeof(id)) || strlen(key) < pl)
			continue;
		if (keep_id && !strcmp(id, keep_id))
			continue;
		ret = cbt_s3_mpu_abort(s, key + pl, id);
		if (ret)
			break;
		n++;
		/* Its record goes with it, unless the record is the kept upload's. */
		mine = keep_name && !strcmp(key + pl, keep_name);
		snprintf(rec, sizeof(rec), CBT_S3_UPLOAD_RECORD "%s", key + pl);
		if (!mine && !strchr(key + pl, '/')) {
			cbt_s3_delete(s, rec);
			cbt_err_clear();
		}
	}
	cbt_s3_buf_free(&b);
	return ret ? ret : n;
}

/*
 * ListParts said more parts follow: the next page starts after
 * <NextPartNumberMarker> of [@res, @res_end), into *@marker. A part number
 * (1 to 10000, so 5 digits at most) past *@marker, or the answer is
 * refused: a marker that does not page on must not read as the last page,
 * which would silently take the parts after it for parts never sent.
 */
static int next_part_marker(const struct cbt_s3 *s, const char *name, const char *res,
			    const char *res_end, int *marker)
{
	const char *a, *b;
	size_t l;
	int v = 0;

	if (!xml_elem(res, res_end, "NextPartNumberMarker", &a, &b))
		return cbt_err(-EBADMSG, "s3://%s/%s/%s: ListParts: more parts follow but no"
			       " NextPartNumberMarker says where", s->bucket, s->prefix, name);
	l = (size_t)(b - a);
	if (l >= 1 && l <= 5 && strspn(a, "0123456789") >= l)
		for (size_t i = 0; i < l; i++)
			v = v * 10 + (a[i] - '0');
	if (v < 1 || v > 10000 || v <= *marker)
		return cbt_err(-EBADMSG, "s3://%s/%s/%s: ListParts: NextPartNumberMarker \"%.*s%s\" is"
			       " not a part number after %d (1 to 10000)", s->bucket, s->prefix, name,
			       (int)(l > 40 ? 40 : l), a, l > 40 ? "..." : "", *marker);
	*marker = v;
	return 0;
}
int cbt_s3_mpu_list(const struct cbt_s3 *s, const char *name, const char *upload_id,
		    char (**etags)[80], int *nr)
{
	char q[700], id[512];
	char (*v)[80] = NULL;
	int ret = 0, have = 0, marker = 0;

	*etags = NULL;
	*nr = 0;
	encode(id, sizeof(id), upload_id);
	/*
	 * 1000 parts an answer at most: IsTruncated and NextPartNumberMarker
	 * page on. Each marker is past the last, so 10000 pages at most.
	 */
	while (!ret) {
		struct cbt_s3_buf b = { 0 };
		char trunc[8] = "false";
		const char *p, *part, *res = NULL, *res_end = NULL;
		struct req r;

		snprintf(q, sizeof(q), "?part-number-marker=%d&uploadId=%s", marker, id);
		r = new_req("GET", name, q);
		r.out = &b;
		ret = request(s, &r);
		for (p = b.p; !ret && xml_elem(p, NULL, "Part", &part, &p);) {
			char num[16], etag[90];
			const char *e;
			long n;

			if (!xml_field(part, p, "PartNumber", num, sizeof(num)) ||
			    !xml_field(part, p, "ETag", etag, sizeof(etag)))
				continue;
			n = strtol(num, NULL, 10);
			if (n < 1 || n > 10000)
				continue;
			if (n > have) {
				char (*nv)[80] = realloc(v, (size_t)n * sizeof(*v));

				if (!nv) {
					ret = -ENOMEM;
					break;
				}
				memset(nv + have, 0, (size_t)(n - have) * sizeof(*v));
				v = nv;
				have = (int)n;
			}
			/* the ETag comes quoted, as &quot; or as '"' */
			e = etag;
			if (!strncmp(e, "&quot;", 6))
				e += 6;
			else if (*e == '"')
				e++;
			snprintf(v[n - 1], sizeof(v[0]), "%.*s", (int)strcspn(e, "\"&"), e);
		}
		if (!ret) {
			/* The answer's own fields, inside its <ListPartsResult>. */
			xml_elem(b.p, NULL, "ListPartsResult", &res, &res_end);
			xml_field(res, res_end, "IsTruncated", trunc, sizeof(trunc));
			if (strcmp(trunc, "true")) {
				cbt_s3_buf_free(&b);
				break;
			}
			ret = next_part_marker(s, name, res, res_end, &marker);
		}
		cbt_s3_buf_free(&b);
	}
	if (ret) {
		free(v);
		return ret;
	}
	*etags = v;
	*nr = have;
	return 0;
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
