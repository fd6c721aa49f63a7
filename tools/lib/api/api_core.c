// SPDX-License-Identifier: GPL-2.0
/* libcbt: versions, errors, the names of values. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/dm-cbt.h>

#include "api/api.h"
#include "image/image.h"
#include "kernel/proto.h"
#include "util/util.h"
#include "util/version.h"

/* The public values are the kernel's and the image format's, by name. */
_Static_assert((int)CBT_REASON_CONTINUED == (int)CBT_IDENTITY_CONTINUED &&
	       (int)CBT_REASON_UNVERIFIED == (int)CBT_IDENTITY_UNVERIFIED &&
	       (int)CBT_REASON_UNVERIFIED + 1 == (int)__CBT_IDENTITY_MAX &&
	       CBT_REASON_UNKNOWN == CBT_IDENTITY_UNKNOWN, "enum cbt_reason");
_Static_assert((int)CBT_PERSISTENCE_NONE == (int)CBT_PERSIST_NONE &&
	       (int)CBT_PERSISTENCE_METADATA == (int)CBT_PERSIST_METADATA &&
	       (int)CBT_PERSISTENCE_FAILED == (int)CBT_PERSIST_FAILED, "enum cbt_persistence_mode");
_Static_assert((int)CBT_SNAPSHOT_PREPARED == (int)CBT_SNAP_PREPARED &&
	       (int)CBT_SNAPSHOT_ACTIVE == (int)CBT_SNAP_ACTIVE &&
	       (int)CBT_SNAPSHOT_INVALID == (int)CBT_SNAP_INVALID, "enum cbt_snapshot_state");
_Static_assert((int)CBT_EV_EPOCH_CLOSED == (int)CBT_EVENT_EPOCH_CLOSED &&
	       (int)CBT_EV_EPOCH_COMMITTED == (int)CBT_EVENT_EPOCH_COMMITTED &&
	       (int)CBT_EV_EPOCH_ABORTED == (int)CBT_EVENT_EPOCH_ABORTED &&
	       (int)CBT_EV_TRACKING_LOST == (int)CBT_EVENT_TRACKING_LOST &&
	       (int)CBT_EV_SNAPSHOT_TAKEN == (int)CBT_EVENT_SNAPSHOT_TAKEN &&
	       (int)CBT_EV_SNAPSHOT_INVALID == (int)CBT_EVENT_SNAPSHOT_INVALID &&
	       (int)CBT_EV_COW_LOW == (int)CBT_EVENT_COW_LOW, "enum cbt_event_type");
_Static_assert((int)CBT_IMAGE_FULL == (int)CBT_IMG_FULL &&
	       (int)CBT_IMAGE_INCREMENTAL == (int)CBT_IMG_INCREMENTAL &&
	       (int)CBT_IMAGE_DIFFERENTIAL == (int)CBT_IMG_DIFFERENTIAL, "enum cbt_image_type");
_Static_assert(CBT_STATUS_CLOSED_MAX >= DM_CBT_MAX_CLOSED, "struct cbt_status closed[]");

unsigned int cbt_api_version(void)
{
	return CBT_API_VERSION;
}

const char *cbt_library_version(void)
{
	return CBT_VERSION;
}

void cbt_api_begin(void)
{
	cbt_err_clear();
}

int cbt_api_end(struct cbt_error *err, int ret)
{
	const char *d = cbt_err_detail();

	if (ret > 0)
		ret = 0;
	if (err) {
		err->code = ret;
		snprintf(err->message, sizeof(err->message), "%s",
			 !ret ? "" : d ? d : strerror(-ret));
	}
	cbt_err_clear();
	return ret;
}

int cbt_api_fail(struct cbt_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = ret;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	cbt_err_clear();
	return ret;
}

const char *cbt_reason_str(uint32_t reason)
{
	return cbt_identity_reason_name(reason);
}

const char *cbt_persistence_str(uint32_t persistence)
{
	return cbt_persistence_name(persistence);
}

const char *cbt_snapshot_state_str(uint32_t state)
{
	return cbt_snap_state_name(state);
}

const char *cbt_event_str(uint32_t type)
{
	static const char *const names[] = {
		[CBT_EV_EPOCH_CLOSED] = "epoch-closed",
		[CBT_EV_EPOCH_COMMITTED] = "epoch-committed",
		[CBT_EV_EPOCH_ABORTED] = "epoch-aborted",
		[CBT_EV_TRACKING_LOST] = "tracking-lost",
		[CBT_EV_SNAPSHOT_TAKEN] = "snapshot-taken",
		[CBT_EV_SNAPSHOT_INVALID] = "snapshot-invalid",
		[CBT_EV_COW_LOW] = "cow-low",
	};

	if (type == CBT_EV_LOST)
		return "events-lost";
	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "unknown";
}

const char *cbt_image_type_str(uint32_t type)
{
	return cbt_img_type_name(type);
}
