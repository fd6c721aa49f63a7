// SPDX-License-Identifier: GPL-2.0
/*
 * S3 multipart uploads (store/s3.h): start, parts, complete, abort, and
 * the two listings, ListParts and ListMultipartUploads, paged through
 * to their end or refused, never cut short.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3.h"
#include "store/s3_priv.h"
#include "util/util.h"

int cbt_s3_mpu_start(const struct cbt_s3 *s, const char *name, char *upload_id, size_t len)
{
	struct cbt_s3_buf b = { 0 };
	struct req r = cbt_s3_req("POST", name, "?uploads=");
	int ret;

	r.out = &b;
	ret = cbt_s3_request(s, &r);
	if (!ret && !cbt_s3_xml_field(b.p, NULL, "UploadId", upload_id, len))
		ret = cbt_err(-EIO, "s3://%s/%s/%s: no UploadId in the answer", s->bucket,
			      s->prefix, name);
	cbt_s3_buf_free(&b);
	return ret;
}

/* @in percent-encoded for a query (cbt_s3_encode()); NULL: no memory. */
static char *encode_dup(const char *in)
{
	return cbt_s3_encode(in, false);
}

/*
 * The query of a request on upload @upload_id: "?uploadId=ID", after
 * "@key=@n&" unless @key is NULL; malloc'd, as long as the id (S3 sets it
 * no bound). NULL: no memory.
 */
static char *upload_query(const char *key, int n, const char *upload_id)
{
	char *id = encode_dup(upload_id), *q = NULL, num[16] = "";

	if (key)
		snprintf(num, sizeof(num), "=%d&", n);
	if (id && asprintf(&q, "?%s%suploadId=%s", key ? key : "", num, id) < 0)
		q = NULL;
	free(id);
	return q;
}

int cbt_s3_mpu_part(const struct cbt_s3 *s, const char *name, const char *upload_id, int n,
		    const void *data, size_t len, char *etag, size_t etag_len)
{
	char *q = upload_query("partNumber", n, upload_id);
	struct req r;
	int ret;

	if (!q)
		return -ENOMEM;
	r = cbt_s3_req("PUT", name, q);
	r.body = data;
	r.body_len = len;
	r.etag = etag;
	r.etag_len = etag_len;
	etag[0] = 0;
	ret = cbt_s3_request(s, &r);
	free(q);
	return ret;
}

int cbt_s3_mpu_complete(const struct cbt_s3 *s, const char *name, const char *upload_id,
			char (*etags)[80], int nr)
{
	struct cbt_s3_buf body = { 0 }, out = { 0 };
	char *q = upload_query(NULL, 0, upload_id), part[200];
	struct req r;
	int ret = q ? cbt_s3_buf_add(&body, "<CompleteMultipartUpload>", 25) : -ENOMEM;

	for (int i = 0; !ret && i < nr; i++) {
		int l = snprintf(part, sizeof(part), "<Part><PartNumber>%d</PartNumber>"
				 "<ETag>\"%s\"</ETag></Part>", i + 1, etags[i]);

		ret = cbt_s3_buf_add(&body, part, (size_t)l);
	}
	if (!ret)
		ret = cbt_s3_buf_add(&body, "</CompleteMultipartUpload>", 26);
	if (ret) {
		cbt_s3_buf_free(&body);
		free(q);
		return ret;
	}
	r = cbt_s3_req("POST", name, q);
	r.body = body.p;
	r.body_len = body.len;
	r.out = &out;
	ret = cbt_s3_request(s, &r);
	/* The answer can be 200 with an error inside. */
	if (!ret && out.p && strstr(out.p, "<Error>")) {
		char code[128] = "Error";

		cbt_s3_xml_field(out.p, NULL, "Code", code, sizeof(code));
		ret = cbt_err(-EIO, "completing the upload of s3://%s/%s/%s: %s", s->bucket,
			      s->prefix, name, code);
	}
	cbt_s3_buf_free(&body);
	cbt_s3_buf_free(&out);
	free(q);
	return ret;
}

int cbt_s3_mpu_abort(const struct cbt_s3 *s, const char *name, const char *upload_id)
{
	char *q = upload_query(NULL, 0, upload_id);
	struct req r;
	int ret;

	if (!q)
		return -ENOMEM;
	r = cbt_s3_req("DELETE", name, q);
	ret = cbt_s3_request(s, &r);
	free(q);
	return ret;
}

/*
 * Does the listing's page @body, its root element <@root>, say more
 * follows (IsTruncated)? The root's content in [*@res, *@res_end), where
 * the next page's markers are.
 */
static bool truncated(const char *body, const char *root, const char **res, const char **res_end)
{
	char trunc[8] = "false";

	*res = NULL;
	*res_end = NULL;
	cbt_s3_xml_elem(body, NULL, root, res, res_end);
	cbt_s3_xml_field(*res, *res_end, "IsTruncated", trunc, sizeof(trunc));
	return !strcmp(trunc, "true");
}

/* A listing's page: GET @name (NULL: the bucket) with query @q (freed; NULL: no memory) into @b. */
static int list_page(const struct cbt_s3 *s, const char *name, char *q, struct cbt_s3_buf *b)
{
	struct req r = cbt_s3_req("GET", name, q);
	int ret;

	if (!q)
		return -ENOMEM;
	r.out = b;
	ret = cbt_s3_request(s, &r);
	free(q);
	return ret;
}

/*
 * One page of ListMultipartUploads, @list: abort its uploads under
 * PREFIX/ (see cbt_s3_mpu_abort_all()), counted in *@n.
 */
static int abort_listed(const struct cbt_s3 *s, const char *list, const char *keep_name,
			const char *keep_id, int *n)
{
	size_t pl = *s->prefix ? strlen(s->prefix) + 1 : 0;
	const char *p, *up;
	int ret = 0;

	for (p = list; !ret && cbt_s3_xml_elem(p, NULL, "Upload", &up, &p);) {
		char *key, *id, rec[1200];
		bool mine;

		ret = cbt_s3_xml_text(up, p, "Key", &key);
		if (ret > 0)
			ret = cbt_s3_xml_text(up, p, "UploadId", &id);
		if (ret <= 0) {
			free(key);
			if (ret == -EBADMSG)
				ret = cbt_err(ret, "s3://%s/%s: ListMultipartUploads: an <Upload> with a"
					      " malformed escape", s->bucket, s->prefix);
			continue;
		}
		/* Not under PREFIX/ (the server ignored the query's prefix), or kept. */
		if (strlen(key) < pl || strncmp(key, s->prefix, pl - !!pl) ||
		    (pl && key[pl - 1] != '/') || (keep_id && !strcmp(id, keep_id))) {
			free(key);
			free(id);
			continue;
		}
		ret = cbt_s3_mpu_abort(s, key + pl, id);
		if (!ret) {
			(*n)++;
			/* Its record goes with it, unless the record is the kept upload's. */
			mine = keep_name && !strcmp(key + pl, keep_name);
			if (!mine && !strchr(key + pl, '/') &&
			    (size_t)snprintf(rec, sizeof(rec), CBT_S3_UPLOAD_RECORD "%s", key + pl) <
			    sizeof(rec)) {
				cbt_s3_delete(s, rec);
				cbt_err_clear();
			}
		}
		free(key);
		free(id);
	}
	return ret;
}

/*
 * ListMultipartUploads said more uploads follow: the next page starts
 * after NextKeyMarker and NextUploadIdMarker of [@res, @res_end), into
 * *@key and *@id (malloc'd, as long as they are: a key is up to 1024
 * bytes, an upload id has no documented bound). Refused when there is no
 * key marker or both are the last page's: taken as the end, the uploads
 * after them would be left unfinished; asked again, the same page would
 * come for ever.
 */
static int next_upload_markers(const struct cbt_s3 *s, const char *res, const char *res_end,
			       char **key, char **id)
{
	char *k, *i;
	int ret = cbt_s3_xml_text(res, res_end, "NextKeyMarker", &k);

	if (ret >= 0)
		ret = cbt_s3_xml_text(res, res_end, "NextUploadIdMarker", &i);
	if (ret < 0) {
		free(k);
		return ret == -EBADMSG ? cbt_err(ret, "s3://%s/%s: ListMultipartUploads: a malformed"
						 " escape in its markers", s->bucket, s->prefix) : ret;
	}
	if (!k || !*k) {
		free(k);
		free(i);
		return cbt_err(-EBADMSG, "s3://%s/%s: ListMultipartUploads: more uploads follow but"
			       " no NextKeyMarker says where", s->bucket, s->prefix);
	}
	if (*key && !strcmp(k, *key) && !strcmp(i ? i : "", *id ? *id : "")) {
		ret = cbt_err(-EBADMSG, "s3://%s/%s: ListMultipartUploads: the same NextKeyMarker"
			      " \"%.40s%s\" and NextUploadIdMarker \"%.40s%s\" again", s->bucket,
			      s->prefix, k, strlen(k) > 40 ? "..." : "", i ? i : "",
			      i && strlen(i) > 40 ? "..." : "");
		free(k);
		free(i);
		return ret;
	}
	free(*key);
	free(*id);
	*key = k;
	*id = i;
	return 0;
}

int cbt_s3_mpu_abort_all(const struct cbt_s3 *s, const char *keep_name, const char *keep_id)
{
	char *key = NULL, *id = NULL, *pfx;
	int ret = 0, n = 0;

	{
		char dir[sizeof(s->prefix) + 1];

		snprintf(dir, sizeof(dir), "%s%s", s->prefix, *s->prefix ? "/" : "");
		pfx = encode_dup(dir);
	}
	/* 1000 uploads a page at most: IsTruncated and the markers page on. */
	while (!ret && pfx) {
		struct cbt_s3_buf b = { 0 };
		char *k = key ? encode_dup(key) : NULL, *i = id && *id ? encode_dup(id) : NULL;
		const char *res, *res_end;
		char *q = NULL;

		/* The query's keys sorted, as SigV4 signs them. */
		if ((!key || k) && (!id || !*id || i) &&
		    asprintf(&q, "?%s%s%sprefix=%s%s%s&uploads=", k ? "key-marker=" : "", k ? k : "",
			     k ? "&" : "", pfx, i ? "&upload-id-marker=" : "", i ? i : "") < 0)
			q = NULL;
		free(k);
		free(i);
		ret = list_page(s, NULL, q, &b);
		if (!ret)
			ret = abort_listed(s, b.p, keep_name, keep_id, &n);
		if (!ret && !truncated(b.p, "ListMultipartUploadsResult", &res, &res_end)) {
			cbt_s3_buf_free(&b);
			break;
		}
		if (!ret)
			ret = next_upload_markers(s, res, res_end, &key, &id);
		cbt_s3_buf_free(&b);
	}
	if (!pfx)
		ret = -ENOMEM;
	free(pfx);
	free(key);
	free(id);
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

	if (!cbt_s3_xml_elem(res, res_end, "NextPartNumberMarker", &a, &b))
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
/*
 * A <Part>'s field @tag, within [@part, @end), into @out: 1, 0 when it has
 * none, -EBADMSG (said) when it does not fit @len: such a part is not
 * skipped, which would take it for one the server does not hold.
 */
static int part_field(const struct cbt_s3 *s, const char *name, const char *part,
		      const char *end, const char *tag, char *out, size_t len)
{
	const char *a, *b;

	if (!cbt_s3_xml_elem(part, end, tag, &a, &b))
		return 0;
	if ((size_t)(b - a) >= len)
		return cbt_err(-EBADMSG, "s3://%s/%s/%s: ListParts: a <Part> whose %s is longer than"
			       " %zu bytes", s->bucket, s->prefix, name, tag, len - 1);
	memcpy(out, a, (size_t)(b - a));
	out[b - a] = 0;
	return 1;
}

/* @num, digits only (15 at most), as a part number 1 to 10000; -1: none. */
static long part_number(const char *num)
{
	long n = 0;

	if (!*num || strspn(num, "0123456789") != strlen(num))
		return -1;
	for (; *num; num++)
		n = n * 10 + (*num - '0');
	return n <= 10000 ? n : -1;
}

int cbt_s3_mpu_list(const struct cbt_s3 *s, const char *name, const char *upload_id,
		    char (**etags)[80], int *nr)
{
	char (*v)[80] = NULL;
	int ret = 0, have = 0, marker = 0;

	*etags = NULL;
	*nr = 0;
	/*
	 * 1000 parts an answer at most: IsTruncated and NextPartNumberMarker
	 * page on. Each marker is past the last, so 10000 pages at most.
	 */
	while (!ret) {
		struct cbt_s3_buf b = { 0 };
		const char *p, *part, *res, *res_end;

		ret = list_page(s, name, upload_query("part-number-marker", marker, upload_id), &b);
		for (p = b.p; !ret && cbt_s3_xml_elem(p, NULL, "Part", &part, &p);) {
			char num[16], etag[96];
			const char *e;
			long n;
			size_t el;

			ret = part_field(s, name, part, p, "PartNumber", num, sizeof(num));
			if (ret > 0)
				ret = part_field(s, name, part, p, "ETag", etag, sizeof(etag));
			if (ret <= 0) {
				/* a part the server holds no bytes of: not held */
				ret = ret < 0 ? ret : 0;
				continue;
			}
			ret = 0;
			n = part_number(num);
			if (n < 1) {
				ret = cbt_err(-EBADMSG, "s3://%s/%s/%s: ListParts: a <Part> whose PartNumber"
					      " \"%s\" is not a part number (1 to 10000)", s->bucket,
					      s->prefix, name, num);
				break;
			}
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
			el = strcspn(e, "\"&");
			if (el >= sizeof(v[0])) {
				ret = cbt_err(-EBADMSG, "s3://%s/%s/%s: ListParts: a <Part> whose ETag is"
					      " longer than %zu bytes", s->bucket, s->prefix, name,
					      sizeof(v[0]) - 1);
				break;
			}
			snprintf(v[n - 1], sizeof(v[0]), "%.*s", (int)el, e);
		}
		/* The answer's own fields, inside its <ListPartsResult>. */
		if (!ret && !truncated(b.p, "ListPartsResult", &res, &res_end)) {
			cbt_s3_buf_free(&b);
			break;
		}
		if (!ret)
			ret = next_part_marker(s, name, res, res_end, &marker);
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
