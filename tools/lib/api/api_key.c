// SPDX-License-Identifier: GPL-2.0
/*
 * The key of encrypted images (include/cbt/cbt.h, "Keys"): the public face
 * of image/crypt.h's process key, which every image layer reads; so the
 * key is the process's, not a handle's.
 */
#include <errno.h>

#include <cbt/cbt.h>

#include "api/api.h"
#include "image/crypt.h"
#include "util/util.h"

int cbt_image_key_load(const char *path, struct cbt_error *err)
{
	cbt_api_begin();
	/* a failed load leaves no key, not the one before: never the wrong key silently */
	cbt_key_clear();
	if (!path)
		return cbt_api_fail(err, -EINVAL, "no key file named");
	return cbt_api_end(err, cbt_key_use(path));
}

int cbt_image_key_set(const uint8_t key[CBT_IMAGE_KEY_BYTES], struct cbt_error *err)
{
	cbt_api_begin();
	if (!key)
		return cbt_api_fail(err, -EINVAL, "no key given");
	return cbt_api_end(err, cbt_key_set(key));
}

void cbt_image_key_clear(void)
{
	cbt_key_clear();
}
