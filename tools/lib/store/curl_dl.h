/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libcurl, loaded when an S3 command first needs it (dlopen), not linked:
 * libcurl brings about 30 libraries of its own (TLS, Kerberos, LDAP, SSH,
 * HTTP/2 ...), whose loading and relocation every cbt process paid before
 * (tests/bench/README.md, bench_dump). The packages still depend on libcurl
 * (debian/control, dm-cbt.spec), and the VM initramfs packs it
 * (tests/vm/lib/initramfs.sh): nothing sees a dlopen'd library by itself.
 *
 * The table holds the functions s3.c calls, resolved once; the types are
 * <curl/curl.h>'s own, so a mismatch with the real library's prototypes
 * fails to compile.
 */
#ifndef CBT_CURL_DL_H
#define CBT_CURL_DL_H

#include <curl/curl.h>

/* The soname loaded: libcurl4's, the OpenSSL flavour the tool is built against. */
#define CBT_LIBCURL_SONAME "libcurl.so.4"

struct cbt_curl {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode cc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/*
 * Load libcurl and run curl_global_init(), once per process (thread-safe).
 * Returns the table, or NULL with *err set (cbt_err(): -ELIBACC naming the
 * library, what dlopen said and the package to install). Later calls
 * return the same, and say the same.
 */
const struct cbt_curl *cbt_curl_load(int *err);

#endif
