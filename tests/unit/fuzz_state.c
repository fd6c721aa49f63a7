// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for clone_state_parse() (clone/plan.c), the hand-written
 * JSON parser of the clone state file (--state-dir may point anywhere):
 * any input, as a NUL-terminated string, must parse or be refused without
 * crashing; what parses must write back (clone_state_write) and parse again
 * to the same state (names up to the writer's UTF-8 repair).
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_state tests/unit/corpus/state
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clone/plan.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The state as the tool writes it (a malloc()ed string). */
static char *written(const struct clone_state *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		abort();
	clone_state_write(f, s);
	fclose(f);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *a, *b;
	struct clone_state s, t;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&s, 0, sizeof(s));
	if (!clone_state_parse(text, &s)) {
		/*
		 * The writer replaces bytes that are not UTF-8 in the names, so
		 * the names may change once; everything else must not, and the
		 * second writing must equal the first.
		 */
		a = written(&s);
		memset(&t, 0, sizeof(t));
		if (clone_state_parse(a, &t))
			abort();
		b = written(&t);
		if (strcmp(a, b) || memcmp(s.uuid, t.uuid, 16) || s.src_bytes != t.src_bytes ||
		    s.block_size != t.block_size || s.target_bytes != t.target_bytes ||
		    s.target_sum != t.target_sum || s.resume_epoch != t.resume_epoch ||
		    s.full_done != t.full_done || s.copied_upto != t.copied_upto ||
		    s.complete != t.complete || s.used_only != t.used_only ||
		    s.last_epoch != t.last_epoch || s.updated != t.updated)
			abort();
		free(a);
		free(b);
	}
	free(text);
	cbt_err_clear();
	return 0;
}
