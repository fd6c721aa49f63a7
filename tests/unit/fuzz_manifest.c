// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the split image manifest parser (store/segment.c,
 * a text file anyone who can write to the backup storage controls): when
 * the input parses, every segment is named NAME.NNNN in order, none is
 * empty, and the sizes add up to the image size.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_manifest tests/unit/corpus/manifest
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/segment.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cbt_seg_manifest m;
	uint64_t total = 0;

	if (!cbt_seg_manifest_parse((const char *)data, size, "a.cbti", "fuzz", &m)) {
		for (size_t i = 0; i < m.nr; i++) {
			char want[32];

			snprintf(want, sizeof(want), "a.cbti.%04zu", i);
			if (strcmp(m.v[i].name, want) || !m.v[i].size)
				abort();
			total += m.v[i].size;
		}
		if (!m.nr || total != m.size)
			abort();
		cbt_seg_manifest_free(&m);
	}
	cbt_err_clear();
	return 0;
}
