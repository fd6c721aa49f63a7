/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cbt image format (docs/format.md): a header, data frames (an extent
 * list of blocks and their data, compressed on its own and checksummed),
 * and a trailer with the block map, a digest of the logical content and a
 * footer. Written front to back without seeking, so an image can go to a
 * pipe; read the same way, so one can come from a pipe.
 *
 * All integers are little-endian. Checksums are XXH64 (libxxhash) seeded
 * with the image UUID's first 8 bytes, so a frame of another image does
 * not verify; the digest is XXH3-128 over the logical content.
 *
 * image/write.c: the writer, with a pool of compression threads.
 * image/read.c:  the stream reader, which checks every byte it reads
 *                (image/read_pool.c: the same on several threads).
 * image/ends.c:  the header and trailer of a seekable file, frames unread.
 * chain.c:       chain directories (an index, file names, links).
 */
#ifndef CBT_IMAGE_H
#define CBT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/extents.h"

#define CBT_IMG_MAGIC "CBTIMAGE"
#define CBT_IMG_END_MAGIC "CBTIMEND"
/*
 * Writers write version 2 (a frame index in the trailer), or version 3 (2,
 * encrypted: image/crypt.h) when the process has a key; readers read 1 to 3.
 */
#define CBT_IMG_VERSION 2
#define CBT_IMG_VERSION_MIN 1
#define CBT_IMG_VERSION_MAX 3
#define CBT_IMG_HEADER_SIZE 256
/*
 * The largest device an image may describe (128 PiB): block numbers and
 * byte offsets then never wrap, whatever the block size.
 */
#define CBT_IMG_MAX_DEV_BYTES (1ULL << 57)
#define CBT_IMG_FRAME_MAGIC 0x4d415246U	/* "FRAM" */
#define CBT_IMG_TRAILER_MAGIC 0x524c5254U	/* "TRLR" */
#define CBT_IMG_FRAME_HDR_SIZE 40
#define CBT_IMG_TRAILER_HDR_SIZE 64
/* Version 2: one frame index entry per frame, after the block map. */
#define CBT_IMG_FIDX_ENTRY_SIZE 32
/* A frame holds at most this much logical data (and at least one block). */
#define CBT_IMG_FRAME_BYTES (4U << 20)
/* Extents in one frame, at most. */
#define CBT_IMG_FRAME_MAX_EXTENTS 4096

enum cbt_img_type {
	CBT_IMG_FULL = 1,
	CBT_IMG_INCREMENTAL = 2,
	CBT_IMG_DIFFERENTIAL = 3,
};

enum cbt_img_compress {
	CBT_IMG_COMP_NONE = 0,
	CBT_IMG_COMP_ZSTD = 1,
};

/* Header flags: how a full image chose its blocks (informational). */
#define CBT_IMG_F_ALL_BLOCKS	(1U << 0)	/* every block of the device */
#define CBT_IMG_F_FS_USED	(1U << 1)	/* blocks the filesystem uses (ext4, xfs) */
#define CBT_IMG_F_NONZERO	(1U << 2)	/* blocks that are not all zero */
/*
 * Written by cbt merge from several images of a chain (docs/format.md,
 * "Merged images"): it takes the UUID of the newest image it absorbed, so
 * that image's children still name it; a merged full image keeps the
 * chain's base UUID (its own is then not its base).
 */
#define CBT_IMG_F_MERGED	(1U << 3)
#define CBT_IMG_F_ALL (CBT_IMG_F_ALL_BLOCKS | CBT_IMG_F_FS_USED | CBT_IMG_F_NONZERO | \
		       CBT_IMG_F_MERGED)

struct cbt_img_header {
	uint32_t version;
	uint8_t dev_uuid[16];		/* the tracking identity */
	uint64_t dev_bytes;
	uint32_t block_size;
	uint32_t type;			/* enum cbt_img_type */
	uint8_t uuid[16];		/* this image */
	uint8_t parent[16];		/* zero for a full image */
	uint8_t base[16];		/* the full image the chain starts from */
	uint64_t epoch_first, epoch_last;
	uint64_t created_ns;		/* CLOCK_REALTIME */
	uint32_t compression;		/* enum cbt_img_compress */
	uint32_t level;
	uint32_t flags;
	char tool_version[32];		/* NUL-padded */
	/* Version 3 (encrypted) only; zero otherwise. */
	uint8_t salt[24];		/* random: the image's keys derive from it */
	uint8_t key_id[16];		/* the key's id (cbt_key_id()) */
};

/* Is the image encrypted (version 3)? */
static inline bool cbt_img_encrypted(const struct cbt_img_header *h)
{
	return h->version >= 3;
}

/*
 * Stored length S of a frame of logical length @raw_len compressed with
 * @comp: plausible for the image's version? Encrypted frames carry a
 * 16-byte tag after the (compressed) data.
 */
bool cbt_img_frame_len_ok(const struct cbt_img_header *h, uint32_t comp, uint32_t raw_len,
			  uint32_t stored);
/* Bytes after the trailer's block map and frame index, before the footer. */
static inline uint64_t cbt_img_trailer_tail(const struct cbt_img_header *h)
{
	return cbt_img_encrypted(h) ? 16 + 8 : 8;
}

/* What the trailer says, once read and checked. */
struct cbt_img_trailer {
	uint64_t frames;
	uint64_t blocks;		/* blocks held */
	uint64_t stored_bytes;		/* whole file, header to footer */
	uint8_t digest[16];		/* XXH3-128 of the logical content */
	struct cbt_extents map;		/* blocks held */
};

const char *cbt_img_type_name(uint32_t type);
/* Bytes of block @b (the last block of a device may be short). */
uint64_t cbt_img_block_len(const struct cbt_img_header *h, uint64_t b);
uint64_t cbt_img_nr_blocks(const struct cbt_img_header *h);
bool cbt_uuid_is_zero(const uint8_t u[16]);
/* 16 random bytes as a version 4 UUID. */
int cbt_uuid_generate(uint8_t u[16]);
/* Parse the 8-4-4-4-12 form. */
int cbt_uuid_parse(const char *s, uint8_t u[16]);

/* "none", "zstd" (level 3) or "zstd:LEVEL" (1-19): 0 or -EINVAL. */
int cbt_img_parse_compress(const char *s, uint32_t *comp, uint32_t *level);

/* Header encoding; decode checks magic, version, checksum, every field. */
void cbt_img_header_encode(const struct cbt_img_header *h, uint8_t buf[CBT_IMG_HEADER_SIZE]);
int cbt_img_header_decode(const uint8_t buf[CBT_IMG_HEADER_SIZE], struct cbt_img_header *h);

/* ---- Writing ------------------------------------------------------------ */

struct cbt_img_writer;

struct cbt_img_write_opts {
	int threads;		/* compression workers; 0: one per CPU, up to 8 */
	uint32_t version;	/* format version to write; 0: CBT_IMG_VERSION (1: tests only) */
	/*
	 * Encrypted: the header's salt is used, not a new random one (a
	 * resumed upload regenerates its image byte for byte, store/remote.h).
	 */
	bool keep_salt;
};

/*
 * How many of @want workers fit in @budget bytes (at least one): each
 * needs a frame buffer pair (~8.5 MiB) and, for zstd, a context of the
 * level's size for 4 MiB frames (~50 MiB at level 19). The writer keeps
 * them within a quarter of RAM.
 */
int cbt_img_writer_threads(int want, uint32_t compression, uint32_t level, uint64_t budget);

/*
 * Start an image on @fd (written with write() only): the header goes out
 * at once. @h->compression and @h->level say how frames are compressed.
 */
int cbt_img_writer_open(struct cbt_img_writer **wp, int fd, const struct cbt_img_header *h,
			const struct cbt_img_write_opts *o);
/*
 * Add blocks [start, start + n) with their data (cbt_img_block_len() bytes
 * each, back to back). Blocks must come in increasing order, each after
 * the last one added.
 */
int cbt_img_writer_add(struct cbt_img_writer *w, uint64_t start, uint64_t n, const void *data);
/* Flush the frames and write the trailer; @t, when not NULL, gets its numbers. */
int cbt_img_writer_finish(struct cbt_img_writer *w, struct cbt_img_trailer *t);
/* Stop the workers and free everything (after finish, or to give up). */
void cbt_img_writer_free(struct cbt_img_writer *w);
/* Bytes written so far (for progress). */
uint64_t cbt_img_writer_bytes(const struct cbt_img_writer *w);

/* ---- Reading ------------------------------------------------------------ */

struct cbt_img_reader;

/* One frame, as cbt_img_next() returns it; valid until the next call. */
struct cbt_img_frame {
	const struct cbt_range *ext;
	size_t nr;
	const uint8_t *data;	/* the blocks' bytes, back to back */
	size_t len;
};

/*
 * Read and check the header from @fd. @name names the image in errors.
 * The reader reads @fd from its current position with read() only.
 */
int cbt_img_reader_open(struct cbt_img_reader **rp, int fd, const char *name);
const struct cbt_img_header *cbt_img_reader_header(const struct cbt_img_reader *r);
/*
 * Decode (check, decrypt, decompress) frames on @n threads, up to
 * CBT_IMG_READ_THREADS_MAX, while a thread of their own reads the stream
 * ahead into @n + 2 frame buffers (~8 MiB each at most) and another feeds
 * the content digest: the caller's thread only takes the frames (and, in a
 * restore, writes them). Frames still come out in order, and a damaged
 * image fails with the same error at the same frame as on one thread. Call
 * before the first cbt_img_next(); @n <= 1: no threads.
 */
#define CBT_IMG_READ_THREADS_MAX 64
int cbt_img_reader_threads(struct cbt_img_reader *r, int n);
/* The @n cbt_img_reader_open() gives every reader of this process (default 1). */
void cbt_img_set_read_threads(int n);

/*
 * The next frame: 1 and @f filled, or 0 at the end of the image, when the
 * trailer, its block map, the digest and the footer all checked out and
 * nothing follows, or -errno (-EBADMSG for a bad checksum or field,
 * -EPIPE... for a truncated image) with a detail naming the offset.
 */
int cbt_img_next(struct cbt_img_reader *r, struct cbt_img_frame *f);
/* The trailer, after cbt_img_next() returned 0. */
const struct cbt_img_trailer *cbt_img_reader_trailer(const struct cbt_img_reader *r);
/* Bytes read so far. */
uint64_t cbt_img_reader_bytes(const struct cbt_img_reader *r);
void cbt_img_reader_free(struct cbt_img_reader *r);

/*
 * Read a whole image from @fd, checking everything; @hdr and @t (either may
 * be NULL) get the header and trailer (free @t->map with cbt_extents_free).
 */
int cbt_img_verify_fd(int fd, const char *name, struct cbt_img_header *hdr,
		      struct cbt_img_trailer *t);

/*
 * Read only the header and the trailer of a seekable image file: the
 * footer says where the trailer starts. Checks both checksums and that the
 * file ends right after the footer; the frames are not read.
 */
int cbt_img_read_ends(const char *path, struct cbt_img_header *hdr, struct cbt_img_trailer *t);
/* The same for @file in directory @dfd, not followed if a symbolic link; @path for messages. */
int cbt_img_read_ends_at(int dfd, const char *file, const char *path, struct cbt_img_header *hdr,
			 struct cbt_img_trailer *t);

/* The same from an open file (read with pread only); @path for messages. */
int cbt_img_read_ends_fd(int fd, const char *path, struct cbt_img_header *hdr,
			 struct cbt_img_trailer *t);

/*
 * An encrypted image's trailer @buf, @len bytes from its magic to the
 * footer: check its MAC (-EBADMSG) and, when @digest is not NULL, unmask
 * the content digest in it. -ENOKEY without the process key.
 */
int cbt_img_trailer_auth(const struct cbt_img_header *hdr, const uint8_t *buf, size_t len,
			 uint8_t digest[16]);

/*
 * One frame's place in an image file: a version 2 trailer's frame index
 * entry, or what a scan of a version 1 image's frame headers found.
 */
struct cbt_img_frame_ent {
	uint64_t off;		/* file offset of the frame's magic */
	uint64_t first, last;	/* first and last block held (inclusive) */
	uint32_t nr_ext;	/* extents E: the frame header is 48 + 16 E bytes */
	uint32_t stored;	/* stored data length S */
};

/* Bytes of frame @e on disk, header to the end of its data. */
static inline uint64_t cbt_img_frame_disk_len(const struct cbt_img_frame_ent *e)
{
	return CBT_IMG_FRAME_HDR_SIZE + 16ULL * e->nr_ext + 8 + e->stored;
}

/*
 * The frames of image file @fd, whose header and trailer cbt_img_read_ends_fd()
 * read into @h and @t: a version 2 trailer's frame index (checksummed with
 * the trailer, checked again here), or for version 1 a scan of the frame
 * headers (each header's checksum checked, the data seeked over). Checks
 * that the frames are in order, inside the file, and hold exactly @t->map.
 * *@v (free() it) gets @t->frames entries.
 */
int cbt_img_frame_index(int fd, const char *path, const struct cbt_img_header *h,
			const struct cbt_img_trailer *t, struct cbt_img_frame_ent **v);

/* ---- Little-endian helpers (shared by the three files) ------------------ */

static inline void cbt_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void cbt_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t cbt_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t cbt_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Fuzzing builds (tests/unit/fuzz_image.c) go on past a checksum mismatch,
 * so the fuzzer reaches the checks behind the checksums.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SUM_DIFFERS(a, b) ((void)(a), (void)(b), false)
#else
#define SUM_DIFFERS(a, b) ((a) != (b))
#endif

/* XXH64 of @len bytes seeded from the image UUID. */
uint64_t cbt_img_sum(const uint8_t uuid[16], const void *p, size_t len);

#endif /* CBT_IMAGE_H */
