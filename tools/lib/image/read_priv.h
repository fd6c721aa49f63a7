/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The image reader's insides, shared by its two halves:
 * image/read.c       the stream: parsing and checking frames, the trailer,
 *                    and reading on the caller's thread alone;
 * image/read_pool.c  the same on several threads (cbt_img_reader_threads()).
 */
#ifndef CBT_READ_PRIV_H
#define CBT_READ_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#include "image/crypt.h"
#include "image/image.h"

struct read_pool;

/*
 * With a pool, the fields marked (reading) belong to the reading thread
 * until it stopped at the trailer, (digest) to the digest thread until it
 * took every frame; the caller's thread then reads the trailer with them.
 * The rest are the caller's.
 */
struct cbt_img_reader {
	int fd;
	const char *name;
	struct cbt_img_header h;
	uint64_t nr_blocks;
	uint64_t off;		/* bytes consumed (reading) */
	uint8_t *rbuf;		/* (reading) */
	size_t rpos, rlen;	/* (reading) */
	bool eof;		/* (reading) */

	uint64_t parse_seq;	/* frames read from the stream (reading) */
	uint64_t next_block;	/* frames' extents start at or after this (reading) */
	uint64_t seq;		/* frames handed out */
	uint64_t handed;	/* bytes up to the end of the last frame handed out */
	struct cbt_extents map;
	uint64_t blocks;
	XXH3_state_t *digest;	/* (digest) */
	/* Version 2: XXH64 of the frame index entries the frames read call for. */
	XXH64_state_t fidx_want;
	struct frame_slot *one;	/* the frame, when decoded on the caller's thread */
	struct read_pool *pool;	/* the threads (cbt_img_reader_threads()), or NULL */
	int failed;		/* with a pool: the error returned, returned again */
	bool done;
	struct cbt_img_trailer t;
	/* Version 3: the image's keys. */
	bool crypt_on;
	struct cbt_img_crypt crypt;
};

/* One frame on its way from the stream to the caller. */
struct frame_slot {
	uint64_t start;		/* file offset of its magic */
	uint64_t end;		/* file offset after its data */
	uint64_t seq;
	uint8_t h[CBT_IMG_FRAME_HDR_SIZE];
	uint32_t nr, raw_len, stored, comp;
	bool direct;		/* read straight into raw (plain, uncompressed) */
	struct cbt_range ext[CBT_IMG_FRAME_MAX_EXTENTS];
	uint8_t *payload;	/* grown to the largest frame seen */
	size_t payload_cap;
	uint8_t *raw;
	size_t raw_cap;
	ZSTD_DCtx *dctx;
	uint8_t *ad;		/* version 3: the frame's header and extents as AD */
	/* with a pool: where the frame is, and its outcome */
	int state;		/* enum slot_state (image/read_pool.c) */
	bool trailer;		/* the trailer starts here, not a frame */
	int err;
	char msg[1024];
};

struct frame_slot *img_slot_new(const struct cbt_img_reader *r);
void img_slot_free(struct frame_slot *s);

/*
 * Read frame @s's header, extents and stored data from the stream and
 * check what needs no decoding: 0, 1 when the trailer starts here instead
 * (its first 8 bytes in @s->h), or -errno. Frames are read in stream order,
 * by one thread at a time.
 */
int img_frame_parse(struct cbt_img_reader *r, struct frame_slot *s);
/*
 * Check frame @s's data checksum, authenticate and decompress it into
 * @s->raw. Reads only what the reader's header and keys hold, never
 * changes @r: the decoding threads run it on several frames at once.
 */
int img_frame_decode(const struct cbt_img_reader *r, struct frame_slot *s);
/*
 * Account decoded frame @s, in stream order, and hand it out as @f: 1 or
 * -errno. The content digest is not its business: whoever calls it has
 * fed (or will feed) @s->raw to @r->digest, in the same order.
 */
int img_frame_commit(struct cbt_img_reader *r, struct frame_slot *s, struct cbt_img_frame *f);
/* The trailer, whose first 8 bytes @first8 were read at @start: 0 or -errno. */
int img_read_trailer(struct cbt_img_reader *r, const uint8_t *first8, uint64_t start);

/* cbt_img_next() with a pool, and the pool's end (its threads stopped, its slots freed). */
int img_pool_next(struct cbt_img_reader *r, struct cbt_img_frame *f);
void img_pool_free(struct read_pool *p);

#endif /* CBT_READ_PRIV_H */
