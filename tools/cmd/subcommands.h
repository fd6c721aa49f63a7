/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_SUBCOMMANDS_H
#define CBT_SUBCOMMANDS_H

#include <signal.h>
#include <stdbool.h>

extern const char *PROG_NAME;

/* Each takes the arguments from its own name on and returns the exit status. */
int status_main(int argc, char *argv[]);
int bitmap_main(int argc, char *argv[]);
int epoch_main(int argc, char *argv[]);
/* `cbt epoch' of several devices or --all: it prints JSON of its own (cbt.c). */
bool epoch_own_json(int argc, char *argv[]);
int snapshot_main(int argc, char *argv[]);
int attach_main(int argc, char *argv[]);
int detach_main(int argc, char *argv[]);
int setup_boot_main(int argc, char *argv[]);
int backup_main(int argc, char *argv[]);
int restore_main(int argc, char *argv[]);
int verify_main(int argc, char *argv[]);
int info_main(int argc, char *argv[]);
int export_main(int argc, char *argv[]);
int clone_main(int argc, char *argv[]);
int mount_main(int argc, char *argv[]);
int unmount_main(int argc, char *argv[]);
int serve_main(int argc, char *argv[]);
/* `cbt serve DEVICE --snapshot ...' (serve.c hands over every argument). */
int cmd_serve_snapshot(int argc, char **argv);
int migrate_main(int argc, char *argv[]);
int monitor_main(int argc, char *argv[]);

int merge_main(int argc, char *argv[]);
int prune_main(int argc, char *argv[]);
int job_main(int argc, char *argv[]);
int keygen_main(int argc, char *argv[]);
int version_main(int argc, char *argv[]);
int help_main(int argc, char *argv[]);


/*
 * After getopt_long() (optstring starting with ':') returned @c ('?' or
 * ':'): say which option of `cbt @cmd' was wrong, quoting it. Returns CBT_EXIT_USAGE (2).
 */
int bad_option(const char *cmd, int c, char *argv[]);
/* `cbt @cmd: <what> `@arg''; returns CBT_EXIT_USAGE (2), the exit status for usage errors. */
int bad_argument(const char *cmd, const char *what, const char *arg, const char *hint);
/*
 * The DIR|FILE argument @arg of a command that reads chains: a path that
 * does not exist is bad usage, said before anything is done (exit 2);
 * "-" and s3:// URLs are left to the command. 0 or CBT_EXIT_USAGE.
 */
int chain_argument(const char *cmd, const char *arg);
/*
 * The -errno for a DEVICE or DISK path whose stat() failed with @e: a path
 * that does not exist is no such device (-ENODEV, exit status 5).
 */
int device_path_errno(int e);

/*
 * --key FILE (and backup's --encrypt FILE): getopt_long()'s value for it,
 * and its handling: the key becomes the process key (image/crypt.h).
 * Returns 0, or the exit status after saying why (a second key is a usage
 * error; a key file that is open to others or holds no key, too).
 */
#define KEY_OPT 0x1001
#define IDLE_OPT 0x1002
int key_option(const char *cmd, const char *path);
/* --threads N (1 to 64) of @cmd into *@n: 0 or CBT_EXIT_USAGE. */
int threads_option(const char *cmd, const char *arg, int *n);

struct cbt_backup_job;
/*
 * The snapshot's options of `cbt backup' and `cbt serve --snapshot', as
 * getopt_long() returns them: 'c' --cow COW, 'f' --force, 'z' --freeze,
 * 'Z' --no-freeze (*@freeze_opt: -1 until one of these is given). 1 if @c
 * was one of them, 0 if not, CBT_EXIT_USAGE after saying why when --freeze
 * and --no-freeze were both given (in backup.c).
 */
int backup_snapshot_option(struct cbt_backup_job *job, const char *cmd, int *freeze_opt, int c,
			   const char *arg);

/*
 * Counts SIGINT, SIGTERM and SIGHUP (SA_RESTART) once catch_stop_signals()
 * ran, which also ignores SIGPIPE: a backup stops at its next block and
 * aborts its epoch; a clone or a migration stops at the first and may be
 * made to stop harder at the next. Returns &cbt_stop.
 */
extern volatile sig_atomic_t cbt_stop;
volatile sig_atomic_t *catch_stop_signals(void);

/* Shared by merge, prune and job (cmd/merge.c, cmd/prune.c). */
struct cbt_json;
struct cbt_merge_opts;
struct cbt_merge_result;
struct cbt_retain_policy;
/* --compress (@c 'C') or --threads ('T') from optarg into @o: 0 or CBT_EXIT_USAGE. */
int merge_opt(const char *cmd, int c, struct cbt_merge_opts *o);
/* A merge's result as members of the open JSON object. */
void merge_json(struct cbt_json *j, const struct cbt_merge_result *r);
/*
 * Prune @dir (a directory or s3://BUCKET/PREFIX, @s3cfg its --s3-config or NULL) under @p
 * (printing the plan unless @quiet): 0 or -errno with a detail.
 */
int prune_chain(const char *dir, const char *s3cfg, const struct cbt_retain_policy *p,
		bool dry_run, const struct cbt_merge_opts *o, bool json, bool quiet);

#endif /* CBT_SUBCOMMANDS_H */
