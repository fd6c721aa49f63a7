/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the S3 client: store/s3.c's requests and XML picking, shared
 * with the multipart uploads of store/s3_mpu.c. Not for other callers.
 */
#ifndef CBT_S3_PRIV_H
#define CBT_S3_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/s3.h"

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

static inline struct req cbt_s3_req(const char *method, const char *name, const char *query)
{
	struct req r = { .method = method, .name = name, .query = query, .out_fd = -1 };

	return r;
}

/*
 * Send @r on PREFIX/@r->name (retried: see s3.h): 0, or -errno with the
 * reason recorded (cbt_err()).
 */
int cbt_s3_request(const struct cbt_s3 *s, struct req *r);
int cbt_s3_buf_add(struct cbt_s3_buf *b, const void *p, size_t len);

/*
 * @in percent-encoded as SigV4 wants and RFC 3986 allows: the unreserved
 * characters (letters, digits, '-', '.', '_', '~') as they are, '/' too
 * when @keep_slash (a key in the URL's path), every other byte %XX, upper
 * case. malloc'd; NULL: no memory.
 */
char *cbt_s3_encode(const char *in, bool keep_slash);

/*
 * The answers' XML, looked up in [@xml, @end) (@end NULL: to the string's
 * end): the first element <@tag>, its content from *@a to *@b; its text
 * into @out (false when missing or @len too small); its text with XML's
 * escapes undone, malloc'd into *@out (1, 0 when missing, -EBADMSG,
 * -ENOMEM).
 */
bool cbt_s3_xml_elem(const char *xml, const char *end, const char *tag, const char **a,
		     const char **b);
bool cbt_s3_xml_field(const char *xml, const char *end, const char *tag, char *out, size_t len);
int cbt_s3_xml_text(const char *xml, const char *end, const char *tag, char **out);

#endif /* CBT_S3_PRIV_H */
