// SPDX-License-Identifier: GPL-2.0
/*
 * S3 multipart uploads (store/s3.h): start, parts, complete, abort, and
 * the two listings, ListParts and ListMultipartUploads.
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
	r = cbt_s3_req("PUT", name, q);
	r.body = data;
	r.body_len = len;
	r.etag = etag;
	r.etag_len = etag_len;
	etag[0] = 0;
	return cbt_s3_request(s, &r);
}

int cbt_s3_mpu_complete(const struct cbt_s3 *s, const char *name, const char *upload_id,
			char (*etags)[80], int nr)
{
	struct cbt_s3_buf body = { 0 }, out = { 0 };
	char q[600], id[512], part[200];
	struct req r;
	int ret = cbt_s3_buf_add(&body, "<CompleteMultipartUpload>", 25);

	for (int i = 0; !ret && i < nr; i++) {
		int l = snprintf(part, sizeof(part), "<Part><PartNumber>%d</PartNumber>"
				 "<ETag>\"%s\"</ETag></Part>", i + 1, etags[i]);

		ret = cbt_s3_buf_add(&body, part, (size_t)l);
	}
	if (!ret)
		ret = cbt_s3_buf_add(&body, "</CompleteMultipartUpload>", 26);
	if (ret) {
		cbt_s3_buf_free(&body);
		return ret;
	}
	encode(id, sizeof(id), upload_id);
	snprintf(q, sizeof(q), "?uploadId=%s", id);
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
	return ret;
}

int cbt_s3_mpu_abort(const struct cbt_s3 *s, const char *name, const char *upload_id)
{
	char q[600], id[512];
	struct req r;

	encode(id, sizeof(id), upload_id);
	snprintf(q, sizeof(q), "?uploadId=%s", id);
	r = cbt_s3_req("DELETE", name, q);
	return cbt_s3_request(s, &r);
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
	r = cbt_s3_req("GET", NULL, q);
	r.out = &b;
	ret = cbt_s3_request(s, &r);
	for (p = b.p; !ret && cbt_s3_xml_elem(p, NULL, "Upload", &up, &p);) {
		char key[1100], id[400], rec[1200];
		size_t pl = *s->prefix ? strlen(s->prefix) + 1 : 0;
		bool mine;

		if (!cbt_s3_xml_field(up, p, "Key", key, sizeof(key)) ||
		    !cbt_s3_xml_field(up, p, "UploadId", id, sizeof(id)) || strlen(key) < pl)
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
		r = cbt_s3_req("GET", name, q);
		r.out = &b;
		ret = cbt_s3_request(s, &r);
		for (p = b.p; !ret && cbt_s3_xml_elem(p, NULL, "Part", &part, &p);) {
			char num[16], etag[90];
			const char *e;
			long n;

			if (!cbt_s3_xml_field(part, p, "PartNumber", num, sizeof(num)) ||
			    !cbt_s3_xml_field(part, p, "ETag", etag, sizeof(etag)))
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
			cbt_s3_xml_elem(b.p, NULL, "ListPartsResult", &res, &res_end);
			cbt_s3_xml_field(res, res_end, "IsTruncated", trunc, sizeof(trunc));
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
