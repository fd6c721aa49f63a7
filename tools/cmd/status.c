// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/device.h"
#include "util/json.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s status [DEVICE] [--json]\n\n"
		"Shows the tracking state of DEVICE, or of every cbt device: identity\n"
		"(UUID), persistence, block size, size, bitmap memory, metadata errors,\n"
		"and each epoch held in the kernel with the blocks changed in it; with a\n"
		"snapshot attached, its state, error, epoch, age and COW use.\n\n"
		"DEVICE is a device-mapper name, MAJ:MIN, /dev/mapper/NAME or /dev/dm-N.\n\n"
		"  --json   print JSON: an object for DEVICE, an array for every device\n",
		PROG_NAME);
}

static const char *snap_error_name(uint32_t e)
{
	switch (e) {
	case 0: return NULL;
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case ENOMEM: return "ENOMEM";
	}
	return "other";
}

static void print_snap(const struct cbt_snap_info *s)
{
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

	printf("  snapshot: %s", cbt_snap_state_name(s->state));
	if (s->state == CBT_SNAP_INVALID && s->error == ENOSPC)
		printf(" (ENOSPC: the COW store filled up; its reads fail, the device is unharmed)");
	else if (s->state == CBT_SNAP_INVALID && s->error)
		printf(" (%s: %s; its reads fail, the device is unharmed)",
		       snap_error_name(s->error), strerror((int)s->error));
	if (s->state == CBT_SNAP_PREPARED)
		printf(", attached, not taken yet (`cbt snapshot take')\n");
	else
		printf(", epoch %" PRIu64 ", taken %" PRIu64 ".%" PRIu64 " s ago\n", s->epoch,
		       s->age_ms / 1000, s->age_ms / 100 % 10);
	printf("    COW: %s used of %s", cbt_human_size(s->cow_used, a),
	       cbt_human_size(s->cow_total, b));
	if (s->cow_total)
		printf(" (%" PRIu64 "%%)", s->cow_used * 100 / s->cow_total);
	printf(", %" PRIu64 " chunk%s of %s copied\n", s->copied, s->copied == 1 ? "" : "s",
	       cbt_human_size(s->chunk_size, a));
}

static void print_human(const struct cbt_dev_info *d)
{
	char a[CBT_HUMAN_LEN], u[CBT_UUID_STR_LEN];

	printf("device: %s (%u:%u)\n", d->name, d->major, d->minor);
	printf("  uuid: %s\n", cbt_uuid_str(d->uuid, u));
	printf("  identity reason: %s (%s)\n", cbt_identity_reason_name(d->identity_reason),
	       cbt_identity_reason_text(d->identity_reason));
	printf("  persistence: %s", cbt_persistence_name(d->persistence));
	if (d->persistence == CBT_PERSIST_FAILED)
		printf(" (metadata device failed: the next image must be a full one)");
	printf("\n  block size: %s\n", cbt_human_size(d->block_size, a));
	printf("  size: %s, %" PRIu64 " blocks\n", cbt_human_size(cbt_dev_bytes(d), a), d->nr_blocks);
	printf("  memory: %s\n", cbt_human_size(d->bitmap_bytes, a));
	printf("  metadata errors: %" PRIu64 "\n", d->metadata_errors);
	if (d->last_committed)
		printf("  last committed epoch: %" PRIu64 "\n", d->last_committed);
	printf("  current epoch: %" PRIu64 "\n", d->epoch_current);
	for (size_t i = 0; i < d->nr_epochs; i++) {
		const struct cbt_epoch_info *e = &d->epochs[i];

		printf("  epoch %" PRIu64 ": %s, %" PRIu64 " changed block%s (%s)\n", e->number,
		       cbt_epoch_state_name(e->state), e->bits, e->bits == 1 ? "" : "s",
		       cbt_human_size(cbt_blocks_bytes(d, e->bits), a));
	}
	if (d->snap.present)
		print_snap(&d->snap);
}

static void print_json(struct cbt_json *j, const struct cbt_dev_info *d)
{
	char u[CBT_UUID_STR_LEN];

	cbt_json_object_begin(j, NULL);
	cbt_json_string(j, "name", d->name);
	cbt_json_u64(j, "major", d->major);
	cbt_json_u64(j, "minor", d->minor);
	cbt_json_string(j, "uuid", cbt_uuid_str(d->uuid, u));
	cbt_json_string(j, "identity_reason", cbt_identity_reason_name(d->identity_reason));
	cbt_json_string(j, "persistence", cbt_persistence_name(d->persistence));
	cbt_json_u64(j, "block_size", d->block_size);
	cbt_json_u64(j, "nr_blocks", d->nr_blocks);
	cbt_json_u64(j, "size_bytes", cbt_dev_bytes(d));
	cbt_json_u64(j, "bitmap_bytes", d->bitmap_bytes);
	cbt_json_u64(j, "metadata_errors", d->metadata_errors);
	cbt_json_u64(j, "last_committed_epoch", d->last_committed);
	cbt_json_u64(j, "current_epoch", d->epoch_current);
	cbt_json_array_begin(j, "epochs");
	for (size_t i = 0; i < d->nr_epochs; i++) {
		const struct cbt_epoch_info *e = &d->epochs[i];

		cbt_json_object_begin(j, NULL);
		cbt_json_u64(j, "number", e->number);
		cbt_json_string(j, "state", cbt_epoch_state_name(e->state));
		cbt_json_u64(j, "changed_blocks", e->bits);
		cbt_json_u64(j, "changed_bytes", cbt_blocks_bytes(d, e->bits));
		cbt_json_object_end(j);
	}
	cbt_json_array_end(j);
	if (d->snap.present) {
		const struct cbt_snap_info *s = &d->snap;
		const char *en = snap_error_name(s->error);

		cbt_json_object_begin(j, "snapshot");
		cbt_json_string(j, "state", cbt_snap_state_name(s->state));
		if (en)
			cbt_json_string(j, "error", en);
		else
			cbt_json_null(j, "error");
		cbt_json_u64(j, "errno", s->error);
		cbt_json_u64(j, "epoch", s->epoch);
		cbt_json_u64(j, "age_ms", s->age_ms);
		cbt_json_u64(j, "chunk_size", s->chunk_size);
		cbt_json_u64(j, "cow_used_bytes", s->cow_used);
		cbt_json_u64(j, "cow_total_bytes", s->cow_total);
		cbt_json_u64(j, "chunks_copied", s->copied);
		cbt_json_u64(j, "size_bytes", s->sectors * 512);
		cbt_json_object_end(j);
	}
	cbt_json_object_end(j);
}

int status_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_dev_info *devs = NULL, one;
	struct cbt_devsel sel;
	struct cbt_nl *nl = NULL;
	struct cbt_json j;
	bool json = false;
	size_t nr = 0;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("status", c, argv);
		}
	}
	if (argc - optind > 1)
		return bad_argument("status", "takes one DEVICE at most, not also", argv[optind + 1],
				    NULL);
	if (optind < argc) {
		ret = cbt_devsel_parse(argv[optind], &sel);
		if (ret) {
			cbt_perror("cbt status", ret);
			return cbt_exit_status(ret);
		}
	}

	cbt_nl_need(CBT_NL_READ);
	ret = cbt_nl_open(&nl);
	if (ret)
		goto out;
	if (optind < argc) {
		ret = cbt_get_device(nl, &sel, &one);
		if (ret)
			goto out;
		devs = &one;
		nr = 1;
	} else {
		ret = cbt_list_devices(nl, &devs, &nr);
		if (ret)
			goto out;
	}

	if (json) {
		cbt_json_init(&j, stdout, false);
		if (devs != &one)
			cbt_json_array_begin(&j, NULL);
		for (size_t i = 0; i < nr; i++)
			print_json(&j, &devs[i]);
		if (devs != &one)
			cbt_json_array_end(&j);
		cbt_json_finish(&j);
	} else {
		for (size_t i = 0; i < nr; i++) {
			if (i)
				putchar('\n');
			print_human(&devs[i]);
		}
	}
out:
	if (devs == &one)
		cbt_dev_info_free(&one);
	else
		cbt_dev_infos_free(devs, nr);
	cbt_nl_close(nl);
	if (ret)
		cbt_perror("cbt status", ret);
	return ret ? 1 : 0;
}
