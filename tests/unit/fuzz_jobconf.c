// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the job file parser (backup/jobconf.c, the text of
 * CONFDIR/jobs.d/NAME.conf that `cbt job' runs and `cbt job enable' writes
 * into a systemd drop-in) and for the run record of a killed backup into
 * S3 (backup/runrec.c, read back from the device's lock file).
 *
 * The input is a job file. What parses must hold only the values
 * docs/jobs.md allows: absolute paths without control characters, threads
 * 1-64, full_every 1-3660 days, the calendar and the delay printable and
 * without quotes or backslashes (they go into the drop-in). Whatever does
 * not parse must say why. The same input, as a run record, must match
 * without crashing; a record cbt_runrec_format() wrote from two of its
 * lines must match those lines and give back fs-frozen.
 *
 *   make -C tests/unit fuzz && build/unit/fuzz_jobconf tests/unit/corpus/jobconf
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/jobconf.h"
#include "backup/runrec.h"
#include "image/image.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Absolute, and no control characters. */
static bool path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if (iscntrl((unsigned char)*p))
			return false;
	return true;
}

/* What a systemd drop-in line can hold as the parser promises. */
static bool text_ok(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if (!isprint((unsigned char)*t) || strchr("\"'\\", *t))
			return false;
	return true;
}

static void check_conf(const struct cbt_job_conf *c)
{
	if (!path_ok(c->device) || !path_ok(c->chain) || !path_ok(c->cow) ||
	    (*c->encrypt && !path_ok(c->encrypt)))
		abort();
	if (c->threads > 64 || c->full_every_days > 3660 || c->full_weekday < -1 ||
	    c->full_weekday > 6)
		abort();
	if (c->between != CBT_IMG_INCREMENTAL && c->between != CBT_IMG_DIFFERENTIAL)
		abort();
	if (c->compression != CBT_IMG_COMP_NONE && c->compression != CBT_IMG_COMP_ZSTD)
		abort();
	if (c->keep.last > 100000 || c->keep.daily > 100000 || c->keep.weekly > 100000 ||
	    c->keep.monthly > 100000)
		abort();
	if (!text_ok(c->calendar) || !text_ok(c->delay))
		abort();
}

/* @data as a record; and two of its lines, written into one and read back. */
static void check_runrec(const char *text)
{
	char snap[CBT_RUNREC_LINE], opts[CBT_RUNREC_LINE], rec[2 * CBT_RUNREC_LINE + 64];
	const char *nl = strchr(text, '\n'), *why;
	bool frozen = false;
	size_t n;

	why = cbt_runrec_match(text, "device x", "to y", &frozen);
	if (!why && !strstr(text, "\nsnapshot device x\n"))
		abort();
	n = nl ? (size_t)(nl - text) : strlen(text);
	if (n >= sizeof(snap))
		return;
	memcpy(snap, text, n);
	snap[n] = '\0';
	text = nl ? nl + 1 : "";
	n = strcspn(text, "\n");
	if (n >= sizeof(opts))
		return;
	memcpy(opts, text, n);
	opts[n] = '\0';
	for (int f = 0; f < 2; f++) {
		if (cbt_runrec_format(rec, sizeof(rec), snap, opts, f))
			abort();
		frozen = !f;
		if (cbt_runrec_match(rec, snap, opts, &frozen) || frozen != f)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cbt_job_conf c;
	char *text = malloc(size + 1);
	FILE *f;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	f = fmemopen(text, size ? size : 1, "r");
	if (!f)
		abort();
	if (!cbt_job_parse(f, "fuzz.conf", "fuzz", &c))
		check_conf(&c);
	else if (!*cbt_err_detail())
		abort();
	fclose(f);
	cbt_err_clear();
	check_runrec(text);
	free(text);
	return 0;
}
