/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small S3 client on libcurl (CURLOPT_AWS_SIGV4): path-style requests to
 * one endpoint, retried with exponential backoff on connection errors,
 * 5xx and 429 answers. See docs/storage.md for the configuration.
 */
#ifndef CBT_S3_H
#define CBT_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cbt_s3 {
	char endpoint[512];	/* scheme://host[:port], no trailing slash */
	char region[64];
	char access_key[256];
	char secret_key[256];
	char bucket[64];
	char prefix[512];	/* without leading or trailing slash; may be empty */
	int retries;		/* attempts after the first (CBT_S3_RETRIES, 5); then -ETIMEDOUT */
	unsigned int backoff_ms;	/* the first delay, doubled each time (200) */
	unsigned int patience_s;	/* an upload's wait for the server (CBT_S3_PATIENCE, 600) */
};

/* Is @url an s3://BUCKET[/PREFIX] location? */
bool cbt_s3_is_url(const char *url);
/*
 * Parse @url and read the credentials: from @config_file (NULL: none) when
 * given, else the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * CBT_S3_ENDPOINT, CBT_S3_REGION or AWS_REGION or AWS_DEFAULT_REGION).
 */
int cbt_s3_open(struct cbt_s3 *s, const char *url, const char *config_file);

/* A growing buffer for bodies. */
struct cbt_s3_buf {
	char *p;
	size_t len, cap;
};
void cbt_s3_buf_free(struct cbt_s3_buf *b);

/*
 * The object PREFIX/@name (@name NULL or "": the query is on the bucket).
 * @query: sorted "k=v&k2=v2" (every key with '='), already encoded.
 */
int cbt_s3_put(const struct cbt_s3 *s, const char *name, const void *data, size_t len);
int cbt_s3_get(const struct cbt_s3 *s, const char *name, struct cbt_s3_buf *out);
/* Bytes [@off, @off + @len) of object @name into @buf (exactly @len). */
int cbt_s3_get_range(const struct cbt_s3 *s, const char *name, uint64_t off, size_t len,
		     void *buf);
/* Object @name, written to @fd as it arrives. */
int cbt_s3_get_to_fd(const struct cbt_s3 *s, const char *name, int fd);
/* The size of object @name (HEAD). */
int cbt_s3_size(const struct cbt_s3 *s, const char *name, uint64_t *size);
int cbt_s3_delete(const struct cbt_s3 *s, const char *name);

/* Multipart uploads of PREFIX/@name. */
int cbt_s3_mpu_start(const struct cbt_s3 *s, const char *name, char *upload_id, size_t len);
/* Part @n (from 1); its ETag goes to @etag. */
int cbt_s3_mpu_part(const struct cbt_s3 *s, const char *name, const char *upload_id, int n,
		    const void *data, size_t len, char *etag, size_t etag_len);
/* @etags[i] is part i + 1's. */
int cbt_s3_mpu_complete(const struct cbt_s3 *s, const char *name, const char *upload_id,
			char (*etags)[80], int nr);
int cbt_s3_mpu_abort(const struct cbt_s3 *s, const char *name, const char *upload_id);
/* The record of an unfinished upload of PREFIX/NAME: PREFIX/.upload-NAME (store/remote.c). */
#define CBT_S3_UPLOAD_RECORD ".upload-"
/*
 * Abort every unfinished multipart upload under PREFIX/ (a run that died)
 * but @keep_id's (NULL: none), and delete the record of each (but
 * @keep_name's): the number aborted, or -errno.
 */
int cbt_s3_mpu_abort_all(const struct cbt_s3 *s, const char *keep_name, const char *keep_id);

/*
 * The parts of upload @upload_id the server holds: *@etags (malloc'd; the
 * caller frees it) gets *@nr entries, [i] part i + 1's ETag, "" for a part
 * it does not hold.
 */
int cbt_s3_mpu_list(const struct cbt_s3 *s, const char *name, const char *upload_id,
		    char (**etags)[80], int *nr);

/*
 * Patience (CBT_S3_PATIENCE): a request failed with @ret; is it worth
 * trying again? Only a transient failure (-ETIMEDOUT: the server could not
 * be reached, or kept failing with 5xx, for all the retries) within
 * s->patience_s of the first failure @p saw (zero it before the first
 * call). Then it sleeps the next capped backoff and returns true; the
 * first time, it says so on stderr, naming @what.
 */
struct cbt_s3_patience {
	uint64_t since_ns;	/* the first failure; 0: none yet */
	int round;
};
bool cbt_s3_patient(const struct cbt_s3 *s, int ret, struct cbt_s3_patience *p, const char *what);

/* The delay before attempt @attempt (1: the first retry), in ms. */
unsigned int cbt_s3_backoff(const struct cbt_s3 *s, int attempt);
/* Whether an answer (@curl_code a CURLcode, @http the status) is worth a retry. */
bool cbt_s3_retryable(int curl_code, long http);

#endif /* CBT_S3_H */
