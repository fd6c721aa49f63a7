// SPDX-License-Identifier: GPL-2.0
/* libcurl through dlopen (curl_dl.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/curl_dl.h"
#include "util/util.h"

static struct cbt_curl curl;
static char curl_error[512];	/* why loading failed; empty: it did not */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* One symbol into its slot. The cast goes through void * as POSIX allows for dlsym. */
#define RESOLVE(h, field, name) resolve((h), (void **)&curl.field, (name))

static int resolve(void *h, void **slot, const char *name)
{
	*slot = dlsym(h, name);
	if (*slot)
		return 0;
	snprintf(curl_error, sizeof(curl_error), "%s has no %s: not the libcurl cbt was built for",
		 CBT_LIBCURL_SONAME, name);
	return -1;
}

static const char *soname(void)
{
#ifdef CBT_TEST_HOOKS
	/* CBT_TEST_LIBCURL=NAME (test builds): load NAME instead, e.g. one that is missing. */
	const char *e = getenv("CBT_TEST_LIBCURL");

	if (e && *e)
		return e;
#endif
	return CBT_LIBCURL_SONAME;
}

static void load(void)
{
	const char *name = soname();
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(curl_error, sizeof(curl_error),
			 "S3 needs libcurl, which could not be loaded (%s); install libcurl4"
			 " (Debian, Ubuntu) or libcurl (Fedora, RHEL)", dlerror());
		return;
	}
	if (RESOLVE(h, global_init, "curl_global_init") ||
	    RESOLVE(h, easy_init, "curl_easy_init") ||
	    RESOLVE(h, easy_setopt, "curl_easy_setopt") ||
	    RESOLVE(h, easy_perform, "curl_easy_perform") ||
	    RESOLVE(h, easy_getinfo, "curl_easy_getinfo") ||
	    RESOLVE(h, easy_cleanup, "curl_easy_cleanup") ||
	    RESOLVE(h, easy_strerror, "curl_easy_strerror") ||
	    RESOLVE(h, slist_append, "curl_slist_append") ||
	    RESOLVE(h, slist_free_all, "curl_slist_free_all")) {
		dlclose(h);
		return;
	}
	/* The handle stays open for the process: the table points into it. */
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(curl_error, sizeof(curl_error), "%s: curl_global_init failed",
			 CBT_LIBCURL_SONAME);
}

const struct cbt_curl *cbt_curl_load(int *err)
{
	pthread_once(&curl_once, load);
	if (!*curl_error)
		return &curl;
	*err = cbt_err(-ELIBACC, "%s", curl_error);
	return NULL;
}
