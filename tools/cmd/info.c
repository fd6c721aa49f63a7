// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/chain.h"
#include "image/crypt.h"
#include "image/s3chain.h"
#include "image/stored.h"
#include "store/segment.h"
#include "util/json.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s info [--json] DIR|FILE|-\n\n"
		"Shows an image's header (type, device identity and size, block size,\n"
		"UUIDs, epochs, creation time, compression, tool version) and sizes:\n"
		"logical bytes (the blocks it holds), stored bytes and their ratio; for a\n"
		"chain directory, every image with its number, position and parent.\n"
		"Only the header and trailer are read (see `cbt verify' to check all).\n"
		"DIR may be a chain in S3, s3://BUCKET/PREFIX (docs/storage.md).\n\n"
		"  --json   print JSON\n"
		"  --key FILE         the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE   S3 endpoint, region and keys\n", PROG_NAME);
}

static uint64_t logical_bytes(const struct cbt_img_header *h, const struct cbt_img_trailer *t)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < t->map.nr; i++) {
		uint64_t end = t->map.v[i].start + t->map.v[i].len;

		sum += t->map.v[i].len * h->block_size;
		if (end == cbt_img_nr_blocks(h))
			sum -= h->block_size - cbt_img_block_len(h, end - 1);
	}
	return sum;
}

static const char *flags_str(uint32_t f)
{
	if (f & CBT_IMG_F_ALL_BLOCKS)
		return "all blocks";
	if (f & CBT_IMG_F_FS_USED)
		return "blocks the filesystem uses";
	if (f & CBT_IMG_F_NONZERO)
		return "non-zero blocks";
	return "changed blocks";
}

static void show(struct cbt_json *j, const char *name, const struct cbt_img_header *h,
		 const struct cbt_img_trailer *t, const struct cbt_chain_entry *e, size_t pos)
{
	char u[CBT_UUID_STR_LEN], a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN], tm[64], kid[CBT_KEY_ID_STR_LEN];
	uint64_t logical = logical_bytes(h, t);
	time_t sec = (time_t)(h->created_ns / 1000000000ULL);
	struct tm tmv;

	strftime(tm, sizeof(tm), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&sec, &tmv));
	if (j) {
		cbt_json_object_begin(j, NULL);
		cbt_json_string(j, "file", name);
		if (e) {
			cbt_json_u64(j, "number", e->seq);
			cbt_json_u64(j, "position", pos);
		}
		cbt_json_string(j, "type", cbt_img_type_name(h->type));
		cbt_json_u64(j, "format_version", h->version);
		cbt_json_string(j, "uuid", cbt_uuid_str(h->uuid, u));
		if (h->type == CBT_IMG_FULL)
			cbt_json_null(j, "parent");
		else
			cbt_json_string(j, "parent", cbt_uuid_str(h->parent, u));
		cbt_json_string(j, "base", cbt_uuid_str(h->base, u));
		cbt_json_string(j, "device_uuid", cbt_uuid_str(h->dev_uuid, u));
		cbt_json_u64(j, "device_bytes", h->dev_bytes);
		cbt_json_u64(j, "block_size", h->block_size);
		cbt_json_u64(j, "epoch_first", h->epoch_first);
		cbt_json_u64(j, "epoch_last", h->epoch_last);
		cbt_json_string(j, "created", tm);
		cbt_json_string(j, "compression", h->compression ? "zstd" : "none");
		if (h->compression)
			cbt_json_u64(j, "level", h->level);
		cbt_json_string(j, "blocks_chosen", flags_str(h->flags));
		cbt_json_bool(j, "merged", h->flags & CBT_IMG_F_MERGED);
		cbt_json_bool(j, "encrypted", cbt_img_encrypted(h));
		if (cbt_img_encrypted(h))
			cbt_json_string(j, "key_id", cbt_key_id_str(h->key_id, kid));
		cbt_json_string(j, "tool_version", h->tool_version);
		cbt_json_u64(j, "blocks", t->blocks);
		cbt_json_u64(j, "frames", t->frames);
		cbt_json_u64(j, "logical_bytes", logical);
		cbt_json_u64(j, "stored_bytes", t->stored_bytes);
		cbt_json_object_end(j);
		return;
	}
	if (e)
		printf("image %" PRIu64 " (position %zu): %s\n", e->seq, pos, name);
	else
		printf("image: %s\n", name);
	printf("  type: %s\n", cbt_img_type_name(h->type));
	printf("  format version: %u, written by cbt %s\n", h->version, h->tool_version);
	printf("  uuid: %s\n", cbt_uuid_str(h->uuid, u));
	if (h->type != CBT_IMG_FULL)
		printf("  parent: %s\n", cbt_uuid_str(h->parent, u));
	printf("  base (full image): %s\n", cbt_uuid_str(h->base, u));
	if (h->flags & CBT_IMG_F_MERGED)
		printf("  merged: the images of these epochs folded into one (cbt merge)\n");
	if (cbt_img_encrypted(h))
		printf("  encrypted: XChaCha20-Poly1305, key id %s\n", cbt_key_id_str(h->key_id, kid));
	printf("  device: identity %s, %s, blocks of %s\n", cbt_uuid_str(h->dev_uuid, u),
	       cbt_human_size(h->dev_bytes, a), cbt_human_size(h->block_size, b));
	printf("  epochs: %" PRIu64 "..%" PRIu64 "\n", h->epoch_first, h->epoch_last);
	printf("  created: %s\n", tm);
	if (h->compression)
		printf("  compression: zstd level %u\n", h->level);
	else
		printf("  compression: none\n");
	printf("  holds: %s, %" PRIu64 " block%s in %" PRIu64 " frame%s\n", flags_str(h->flags),
	       t->blocks, t->blocks == 1 ? "" : "s", t->frames, t->frames == 1 ? "" : "s");
	printf("  logical: %s, stored: %s", cbt_human_size(logical, a),
	       cbt_human_size(t->stored_bytes, b));
	if (t->stored_bytes)
		printf(", ratio %.2f", (double)logical / (double)t->stored_bytes);
	printf("\n");
}

static int read_one(const char *path, struct cbt_img_header *h, struct cbt_img_trailer *t)
{
	struct stat st;
	int fd, ret;

	if (strcmp(path, "-") && !stat(path, &st) && S_ISREG(st.st_mode))
		return cbt_img_read_ends_stored(AT_FDCWD, path, path, false, h, t);
	/* A stream has its trailer at the end: read it all. */
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	if (fd < 0)
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	ret = cbt_img_verify_fd(fd, path, h, t);
	close(fd);
	return ret;
}

int info_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *s3cfg = NULL;
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	struct cbt_json j;
	struct stat st;
	bool json = false;
	int c, ret = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'Y':
			s3cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case KEY_OPT:
			if ((ret = key_option("info", optarg)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("info", c, argv);
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	const char *src;

	ret = chain_argument("info", argv[optind]);
	if (ret)
		return ret;
	ret = cbt_s3chain_src(argv[optind], s3cfg, false, &src, NULL);
	if (ret) {
		cbt_perror("cbt info", ret);
		return cbt_exit_status(ret);
	}

	if (json)
		cbt_json_init(&j, stdout, false);
	if (strcmp(src, "-") && !stat(src, &st) && S_ISDIR(st.st_mode)) {
		struct cbt_chain ch;

		ret = cbt_chain_open(&ch, src, false, false);
		if (ret) {
			cbt_chain_close(&ch);	/* what it read before the bad line */
			goto out;
		}
		if (json) {
			cbt_json_object_begin(&j, NULL);
			cbt_json_string(&j, "chain", argv[optind]);
			cbt_json_array_begin(&j, "images");
		} else {
			printf("chain: %s, %zu image%s\n", argv[optind], ch.nr, ch.nr == 1 ? "" : "s");
		}
		for (size_t i = 0; i < ch.nr && !ret; i++) {
			size_t *chain_path = calloc(ch.nr, sizeof(*chain_path)), pos = 0;

			ret = chain_path ? cbt_chain_read_ends(&ch, i, &h, &t) : -ENOMEM;
			/* an image the index lists is gone: a damaged chain (exit 4, as verify) */
			if (ret == -ENOENT)
				ret = cbt_err_hint(-EBADMSG, "a missing link of the chain");
			/* Position: how many images the restore of this one reads after its full. */
			if (!ret) {
				if (!cbt_chain_resolve(&ch, i, chain_path, &pos))
					pos--;
				cbt_err_clear();
			}
			free(chain_path);
			if (ret)
				break;
			show(json ? &j : NULL, ch.v[i].file, &h, &t, &ch.v[i], pos);
			cbt_extents_free(&t.map);
		}
		if (json && !ret) {
			cbt_json_array_end(&j);
			cbt_json_object_end(&j);
		}
		cbt_chain_close(&ch);
	} else {
		ret = read_one(src, &h, &t);
		if (!ret) {
			show(json ? &j : NULL, src, &h, &t, NULL, 0);
			cbt_extents_free(&t.map);
		}
	}
out:
	if (ret) {
		cbt_perror("cbt info", ret);
		return cbt_exit_status(ret);
	}
	if (json)
		cbt_json_finish(&j);
	return 0;
}
