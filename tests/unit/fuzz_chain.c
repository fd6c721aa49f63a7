// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the chain index parser (chain.c, DIR/chain.idx,
 * which anyone who can write to the backup storage controls): the input is
 * parsed as an index; when it parses, every entry's file name must be safe
 * to open in the chain directory (no '/', no leading '.'), sequence numbers
 * increasing, and resolving every entry's restore path must end (a full
 * image, or an error for a loop or a missing parent) without crashing.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_chain tests/unit/corpus/chain
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/chain.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cbt_chain c = { .dir = (char *)"fuzz", .lock_fd = -1, .dfd = -1 };
	FILE *f = fmemopen((void *)data, size, "r");
	size_t *path, n;

	if (!size || !f) {
		if (f)
			fclose(f);
		return 0;
	}
	if (!cbt_chain_parse(&c, f, "fuzz/chain.idx", false)) {
		path = calloc(c.nr + 1, sizeof(*path));
		if (!path)
			abort();
		for (size_t i = 0; i < c.nr; i++) {
			const struct cbt_chain_entry *e = &c.v[i];

			if (strchr(e->file, '/') || e->file[0] == '.' || !e->file[0] ||
			    (i && e->seq <= c.v[i - 1].seq))
				abort();
			if (!cbt_chain_resolve(&c, i, path, &n) &&
			    (!n || n > c.nr || c.v[path[n - 1]].type != CBT_IMG_FULL))
				abort();
		}
		free(path);
	}
	fclose(f);
	free(c.v);
	cbt_err_clear();
	return 0;
}
