/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libcurl, loaded when an S3 command first needs it (dlopen), not linked:
 * libcurl brings about 30 libraries of its own (TLS, Kerberos, LDAP, SSH,
 * HTTP/2 ...), whose loading and relocation every cbt process paid before
 * (tests/bench/README.md, bench_dump). The packages still depend on libcurl
 * (debian/control, dm-cbt.spec), and the VM initramfs packs it
 * (tests/vm/lib/initramfs.sh): nothing sees a dlopen'd library by itself.
 *
 * The table holds the functions s3.c calls, resolved once. Each slot's
 * type is taken from <curl/curl.h>'s declaration (__typeof__), so a call
 * through it is checked as a direct call would be.
 */
#ifndef CBT_CURL_DL_H
#define CBT_CURL_DL_H

#include <curl/curl.h>

/* The soname loaded: libcurl4's, the OpenSSL flavour the tool is built against. */
#define CBT_LIBCURL_SONAME "libcurl.so.4"

struct cbt_curl {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

/*
 * Load libcurl and run curl_global_init(), once per process (thread-safe).
 * Returns the table, or NULL with *err set (cbt_err(): -ELIBACC naming the
 * library, what dlopen said and the package to install). Later calls
 * return the same, and say the same.
 */
const struct cbt_curl *cbt_curl_load(int *err);

#endif
