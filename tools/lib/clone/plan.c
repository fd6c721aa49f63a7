// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clone/plan.h"
#include "util/json.h"
#include "util/util.h"

uint64_t clone_nr_blocks(const struct clone_cfg *c)
{
	return (c->dev_bytes + c->block_size - 1) / c->block_size;
}

uint64_t clone_converge_blocks(const struct clone_cfg *c)
{
	uint64_t bytes = c->converge_bytes;

	if (!bytes) {
		bytes = c->dev_bytes / 100 * CLONE_CONVERGE_PERCENT;
		if (bytes > CLONE_CONVERGE_MAX_BYTES)
			bytes = CLONE_CONVERGE_MAX_BYTES;
	}
	bytes /= c->block_size;
	return bytes ? bytes : 1;
}

bool clone_fits_final(const struct clone_cfg *c, uint64_t last_blocks, uint64_t last_ns,
		      uint64_t pending)
{
	if (!c->final_pass_ms || !last_blocks || !last_ns)
		return false;
	/* pending * last_ns / last_blocks <= budget, without overflow. */
	return (double)pending * (double)last_ns <=
	       (double)c->final_pass_ms * 1e6 * (double)last_blocks;
}

enum clone_step clone_plan_next(const struct clone_cfg *c, unsigned int done,
				uint64_t prev_blocks, uint64_t last_blocks, uint64_t last_ns,
				bool last_final, uint64_t pending, enum clone_why *why)
{
	unsigned int max = c->max_passes ? c->max_passes : 1;

	if (!done) {
		*why = CLONE_WHY_FIRST;
		return max == 1 ? CLONE_STEP_FINAL : CLONE_STEP_PASS;
	}
	if (last_final) {
		*why = CLONE_WHY_FINISHED;
		return CLONE_STEP_DONE;
	}
	/* Nothing changed and no freeze wanted: the last snapshot will do. */
	if (!pending && !c->freeze) {
		*why = CLONE_WHY_UNCHANGED;
		return CLONE_STEP_DONE;
	}
	if (pending < clone_converge_blocks(c)) {
		*why = CLONE_WHY_SMALL;
		return CLONE_STEP_FINAL;
	}
	if (clone_fits_final(c, last_blocks, last_ns, pending)) {
		*why = CLONE_WHY_QUICK;
		return CLONE_STEP_FINAL;
	}
	if (done + 1 >= max) {
		*why = CLONE_WHY_PASS_LIMIT;
		return CLONE_STEP_FINAL;
	}
	/* Pass 1 copies the whole device: shrinking is judged from pass 2 on. */
	if ((done >= 2 && pending * CLONE_SHRINK_DEN > last_blocks * CLONE_SHRINK_NUM) ||
	    (done >= 3 && last_blocks * CLONE_SHRINK_DEN > prev_blocks * CLONE_SHRINK_NUM)) {
		*why = CLONE_WHY_NOT_SHRINKING;
		return CLONE_STEP_FINAL;
	}
	*why = CLONE_WHY_CONVERGING;
	return CLONE_STEP_PASS;
}

const char *clone_why_str(enum clone_why why)
{
	switch (why) {
	case CLONE_WHY_FIRST:
		return "first pass";
	case CLONE_WHY_CONVERGING:
		return "converging";
	case CLONE_WHY_SMALL:
		return "changed set small";
	case CLONE_WHY_NOT_SHRINKING:
		return "changed set stopped shrinking";
	case CLONE_WHY_PASS_LIMIT:
		return "pass limit";
	case CLONE_WHY_FINISHED:
		return "final pass done";
	case CLONE_WHY_UNCHANGED:
		return "nothing changed since the last pass";
	case CLONE_WHY_QUICK:
		return "changed set fits the final-pass budget";
	}
	return "?";
}

int clone_extents_union(const struct cbt_extents *a, const struct cbt_extents *b,
			struct cbt_extents *out)
{
	size_t i = 0, j = 0;
	uint64_t end = 0;	/* first block after what @out holds */
	int ret;

	while (i < a->nr || j < b->nr) {
		const struct cbt_range *r;
		uint64_t s, e;

		if (j >= b->nr || (i < a->nr && a->v[i].start <= b->v[j].start))
			r = &a->v[i++];
		else
			r = &b->v[j++];
		s = r->start;
		e = s + r->len;
		if (out->nr && s < end)
			s = end;
		if (e <= s)
			continue;
		ret = cbt_extents_append(out, s, e - s);
		if (ret)
			return ret;
		end = e;
	}
	return 0;
}

int clone_extents_from(const struct cbt_extents *in, uint64_t from, struct cbt_extents *out)
{
	for (size_t i = 0; i < in->nr; i++) {
		uint64_t s = in->v[i].start, e = s + in->v[i].len;
		int ret;

		if (e <= from)
			continue;
		if (s < from)
			s = from;
		ret = cbt_extents_append(out, s, e - s);
		if (ret)
			return ret;
	}
	return 0;
}

void clone_extents_coalesce(struct cbt_extents *l, uint32_t block_size)
{
	uint64_t gap = block_size < CLONE_GAP_BYTES ? CLONE_GAP_BYTES / block_size : 0;
	size_t n = 0;

	for (size_t i = 0; i < l->nr; i++) {
		uint64_t end = n ? l->v[n - 1].start + l->v[n - 1].len : 0;

		if (n && l->v[i].start - end <= gap) {
			/* The gap's blocks are copied too: the total grows by them. */
			l->total += l->v[i].start - end;
			l->v[n - 1].len = l->v[i].start + l->v[i].len - l->v[n - 1].start;
			continue;
		}
		l->v[n++] = l->v[i];
	}
	l->nr = n;
}

void clone_extents_clip(struct cbt_extents *l, uint64_t nr_blocks)
{
	while (l->nr) {
		struct cbt_range *r = &l->v[l->nr - 1];

		if (r->start >= nr_blocks) {
			l->total -= r->len;
			l->nr--;
			continue;
		}
		if (r->start + r->len > nr_blocks) {
			l->total -= r->start + r->len - nr_blocks;
			r->len = nr_blocks - r->start;
		}
		break;
	}
}

void clone_io_shape(const struct cbt_extents *l, uint32_t block_size, uint64_t dev_bytes,
		    struct clone_io_shape *s)
{
	uint64_t mean = l->nr ? clone_extents_bytes(l, block_size, dev_bytes) / l->nr : 0;
	uint32_t io = CLONE_IO_MIN_BYTES;

	if (block_size > CLONE_IO_BYTES) {
		s->depth = CLONE_INFLIGHT_BYTES / CLONE_IO_BYTES;
		s->io_bytes = block_size;
		return;
	}
	while (io < CLONE_IO_BYTES && (io < mean || io < block_size))
		io *= 2;
	s->io_bytes = io;
	s->depth = CLONE_INFLIGHT_BYTES / io;
}

bool clone_next_io(const struct cbt_extents *l, uint32_t block_size, uint64_t dev_bytes,
		   uint32_t max_io, size_t *ext, uint64_t *pos, uint64_t *off, uint32_t *len)
{
	if (max_io > CLONE_IO_BYTES || !max_io)
		max_io = CLONE_IO_BYTES;
	while (*ext < l->nr) {
		const struct cbt_range *r = &l->v[*ext];
		uint64_t s = r->start * block_size, e = (r->start + r->len) * block_size;
		uint64_t n;

		if (e > dev_bytes)
			e = dev_bytes;
		if (*pos < s)
			*pos = s;
		if (*pos >= e) {
			(*ext)++;
			continue;
		}
		n = e - *pos;
		if (n > max_io && block_size <= CLONE_IO_BYTES)
			n = max_io;
		else if (n > block_size && block_size > CLONE_IO_BYTES)
			n = block_size;
		*off = *pos;
		*len = (uint32_t)n;
		*pos += n;
		return true;
	}
	return false;
}

uint64_t clone_extents_bytes(const struct cbt_extents *l, uint32_t block_size, uint64_t dev_bytes)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < l->nr; i++) {
		uint64_t s = l->v[i].start * block_size, e = (l->v[i].start + l->v[i].len) * block_size;

		if (e > dev_bytes)
			e = dev_bytes;
		if (e > s)
			sum += e - s;
	}
	return sum;
}

/* ---- State file ---------------------------------------------------------- */

void clone_state_write(FILE *f, const struct clone_state *s)
{
	struct cbt_json j;
	char u[CBT_UUID_STR_LEN];

	cbt_json_init(&j, f, false);
	cbt_json_object_begin(&j, NULL);
	cbt_json_u64(&j, "version", 1);
	cbt_json_string(&j, "source", s->source);
	cbt_json_string(&j, "target", s->target);
	cbt_json_string(&j, "source_uuid", cbt_uuid_str(s->uuid, u));
	cbt_json_u64(&j, "source_bytes", s->src_bytes);
	cbt_json_u64(&j, "block_size", s->block_size);
	cbt_json_u64(&j, "target_bytes", s->target_bytes);
	cbt_json_u64(&j, "target_sum", s->target_sum);
	cbt_json_u64(&j, "resume_epoch", s->resume_epoch);
	cbt_json_bool(&j, "full_done", s->full_done);
	cbt_json_u64(&j, "copied_upto", s->copied_upto);
	cbt_json_bool(&j, "complete", s->complete);
	cbt_json_bool(&j, "used_only", s->used_only);
	cbt_json_u64(&j, "last_epoch", s->last_epoch);
	cbt_json_bool(&j, "epochs_held", s->epochs_held);
	cbt_json_u64(&j, "updated", s->updated);
	cbt_json_object_end(&j);
	cbt_json_finish(&j);
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A JSON string at @p into @buf (cut to fit); returns the position after it. */
static const char *parse_string(const char *p, char *buf, size_t len)
{
	size_t n = 0;

	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		char c = *p++;

		if ((unsigned char)c < 0x20)
			return NULL;
		/* JSON is UTF-8: a sequence that is not is refused, not passed on. */
		if ((unsigned char)c >= 0x80) {
			size_t k = cbt_utf8_len((const unsigned char *)p - 1, strlen(p - 1));

			if (!k || n + k >= len)
				return NULL;
			memcpy(buf + n, p - 1, k);
			n += k;
			p += k - 1;
			continue;
		}
		if (c == '\\') {
			c = *p++;
			switch (c) {
			case '"': case '\\': case '/':
				break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned int v = 0;

				for (int i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
					v = v * 16 + (unsigned int)(isdigit((unsigned char)p[i]) ? p[i] - '0' :
						(tolower((unsigned char)p[i]) - 'a' + 10));
				}
				p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default:
				return NULL;
			}
		}
		/* A name that does not fit is refused, not cut. */
		if (n + 1 >= len)
			return NULL;
		buf[n++] = c;
	}
	if (*p != '"')
		return NULL;
	if (len)
		buf[n] = '\0';
	return p + 1;
}

enum { F_VERSION, F_SOURCE, F_TARGET, F_UUID, F_SRC_BYTES, F_BLOCK_SIZE, F_TARGET_BYTES,
	F_TARGET_SUM, F_RESUME_EPOCH, F_FULL_DONE, F_COPIED_UPTO, F_COMPLETE, F_USED_ONLY,
	F_LAST_EPOCH, F_UPDATED, F_EPOCHS_HELD, F_NR };

static const char *const field_names[F_NR] = {
	"version", "source", "target", "source_uuid", "source_bytes", "block_size",
	"target_bytes", "target_sum", "resume_epoch", "full_done", "copied_upto", "complete",
	"used_only", "last_epoch", "updated", "epochs_held",
};

static int parse_uuid(const char *s, uint8_t u[16])
{
	size_t n = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '-')
			continue;
		if (n >= 32 || !isxdigit((unsigned char)*p))
			return -EINVAL;
		unsigned int d = (unsigned int)(isdigit((unsigned char)*p) ? *p - '0' :
						tolower((unsigned char)*p) - 'a' + 10);
		if (n % 2 == 0)
			u[n / 2] = (uint8_t)(d << 4);
		else
			u[n / 2] |= (uint8_t)d;
		n++;
	}
	return n == 32 ? 0 : -EINVAL;
}

int clone_state_parse(const char *text, struct clone_state *s)
{
	bool seen[F_NR] = { false };
	const char *p = skip_ws(text);

	memset(s, 0, sizeof(*s));
	if (*p++ != '{')
		return cbt_err(-EINVAL, "not a JSON object");
	p = skip_ws(p);
	if (*p == '}')
		goto end;
	for (;;) {
		char key[64], sval[256];
		uint64_t num = 0;
		bool bval = false, is_str = false, is_bool = false;
		int f;

		p = parse_string(skip_ws(p), key, sizeof(key));
		if (!p)
			return cbt_err(-EINVAL, "bad member name");
		p = skip_ws(p);
		if (*p++ != ':')
			return cbt_err(-EINVAL, "no `:' after \"%s\"", key);
		p = skip_ws(p);
		if (*p == '"') {
			p = parse_string(p, sval, sizeof(sval));
			if (!p)
				return cbt_err(-EINVAL, "bad string for \"%s\"", key);
			is_str = true;
		} else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
			bval = *p == 't';
			p += bval ? 4 : 5;
			is_bool = true;
		} else if (isdigit((unsigned char)*p)) {
			char digits[24];
			size_t n = 0;

			while (isdigit((unsigned char)*p) && n + 1 < sizeof(digits))
				digits[n++] = *p++;
			digits[n] = '\0';
			if (isdigit((unsigned char)*p) || cbt_parse_u64(digits, &num))
				return cbt_err(-EINVAL, "number for \"%s\" out of range", key);
		} else {
			return cbt_err(-EINVAL, "bad value for \"%s\"", key);
		}
		for (f = 0; f < F_NR; f++)
			if (!strcmp(key, field_names[f]))
				break;
		if (f < F_NR) {
			bool want_str = f == F_SOURCE || f == F_TARGET || f == F_UUID;
			bool want_bool = f == F_FULL_DONE || f == F_COMPLETE || f == F_USED_ONLY ||
					 f == F_EPOCHS_HELD;

			if (seen[f])
				return cbt_err(-EINVAL, "\"%s\" given twice", key);
			if (want_str != is_str || want_bool != is_bool)
				return cbt_err(-EINVAL, "\"%s\" has the wrong type", key);
			seen[f] = true;
			switch (f) {
			case F_VERSION:
				if (num != 1)
					return cbt_err(-EINVAL, "version %" PRIu64 " (this tool reads 1)", num);
				break;
			case F_SOURCE: snprintf(s->source, sizeof(s->source), "%s", sval); break;
			case F_TARGET: snprintf(s->target, sizeof(s->target), "%s", sval); break;
			case F_UUID:
				if (parse_uuid(sval, s->uuid))
					return cbt_err(-EINVAL, "bad source_uuid \"%s\"", sval);
				break;
			case F_SRC_BYTES: s->src_bytes = num; break;
			case F_BLOCK_SIZE:
				if (num > UINT32_MAX)
					return cbt_err(-EINVAL, "block_size out of range");
				s->block_size = (uint32_t)num;
				break;
			case F_TARGET_BYTES: s->target_bytes = num; break;
			case F_TARGET_SUM: s->target_sum = num; break;
			case F_RESUME_EPOCH: s->resume_epoch = num; break;
			case F_FULL_DONE: s->full_done = bval; break;
			case F_COPIED_UPTO: s->copied_upto = num; break;
			case F_COMPLETE: s->complete = bval; break;
			case F_USED_ONLY: s->used_only = bval; break;
			case F_LAST_EPOCH: s->last_epoch = num; break;
			case F_UPDATED: s->updated = num; break;
			case F_EPOCHS_HELD: s->epochs_held = bval; break;
			}
		}
		p = skip_ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}')
			break;
		return cbt_err(-EINVAL, "expected `,' or `}' after \"%s\"", key);
	}
end:
	p = skip_ws(p + 1);
	if (*p)
		return cbt_err(-EINVAL, "junk after the object");
	for (int f = 0; f < F_NR; f++)
		if (!seen[f] && f != F_UPDATED && f != F_SOURCE && f != F_TARGET &&
		    f != F_EPOCHS_HELD)
			return cbt_err(-EINVAL, "\"%s\" missing", field_names[f]);
	/* A file from before the field: what those tools assumed, an incomplete run's. */
	if (!seen[F_EPOCHS_HELD])
		s->epochs_held = !s->complete;
	if (!s->block_size || (s->block_size & (s->block_size - 1)))
		return cbt_err(-EINVAL, "block_size %u is not a power of two", s->block_size);
	return 0;
}

bool clone_resume_ok(const struct clone_state *s, const uint8_t uuid[16], uint64_t src_bytes,
		     uint32_t block_size, uint64_t target_bytes, uint64_t target_sum,
		     uint64_t oldest_held, uint64_t current, char *why, size_t why_len)
{
	char a[CBT_UUID_STR_LEN], b[CBT_UUID_STR_LEN];

	if (memcmp(s->uuid, uuid, 16)) {
		snprintf(why, why_len, "the source's tracking identity is %s, the target was cloned"
			 " under %s (history was lost, or it is another source)",
			 cbt_uuid_str(uuid, a), cbt_uuid_str(s->uuid, b));
		return false;
	}
	if (s->src_bytes != src_bytes || s->block_size != block_size) {
		snprintf(why, why_len, "the source's size or block size changed (%" PRIu64 " bytes,"
			 " %u-byte blocks; was %" PRIu64 ", %u)", src_bytes, block_size,
			 s->src_bytes, s->block_size);
		return false;
	}
	if (s->target_bytes != target_bytes) {
		snprintf(why, why_len, "the target's size changed (%" PRIu64 " bytes, was %" PRIu64 ")",
			 target_bytes, s->target_bytes);
		return false;
	}
	if (s->target_sum != target_sum) {
		snprintf(why, why_len, "the target was written since the last run: its first MiB"
			 " changed");
		return false;
	}
	if (s->resume_epoch > current) {
		snprintf(why, why_len, "the state file wants epochs from %" PRIu64 " on, but the"
			 " source's open epoch is %" PRIu64, s->resume_epoch, current);
		return false;
	}
	if (oldest_held > s->resume_epoch) {
		snprintf(why, why_len, "epochs %" PRIu64 "..%" PRIu64 " were committed or aborted"
			 " since (the oldest the source holds is %" PRIu64 ")", s->resume_epoch,
			 oldest_held - 1, oldest_held);
		return false;
	}
	if (why_len)
		why[0] = '\0';
	return true;
}

void clone_target_id(const char *target, char *buf, size_t len)
{
	const char *p = target;
	size_t n = 0;

	if (!strncmp(p, "/dev/", 5))
		p += 5;
	for (; *p && n + 1 < len; p++) {
		unsigned char c = (unsigned char)*p;

		buf[n++] = (char)(isalnum(c) || c == '-' || c == '.' || c == '_' ? (c == '/' ? '-' : c) :
				  c == '/' ? '-' : '_');
	}
	if (len)
		buf[n] = '\0';
}
