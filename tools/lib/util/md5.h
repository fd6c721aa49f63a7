/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MD5 (RFC 1321), for one purpose only: S3 gives an uploaded part's MD5 as
 * its ETag, and a resumed upload proves its parts by it (store/remote.c).
 * Not for anything that needs a secure hash.
 */
#ifndef CBT_MD5_H
#define CBT_MD5_H

#include <stddef.h>
#include <stdint.h>

/* The MD5 of @len bytes at @p, as 32 lower-case hex digits and a NUL. */
void cbt_md5_hex(const void *p, size_t len, char out[33]);

#endif /* CBT_MD5_H */
