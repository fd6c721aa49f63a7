/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_SUBCOMMANDS_H
#define CBT_SUBCOMMANDS_H

#include <signal.h>

extern const char *PROG_NAME;

/* Each takes the arguments from its own name on and returns the exit status. */
int status_main(int argc, char *argv[]);
int bitmap_main(int argc, char *argv[]);
int epoch_main(int argc, char *argv[]);
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
int migrate_main(int argc, char *argv[]);
int monitor_main(int argc, char *argv[]);
int version_main(int argc, char *argv[]);
int help_main(int argc, char *argv[]);

/*
 * Count SIGINT and SIGTERM (SA_RESTART) into the returned counter: a
 * long run stops at the first and may be made to stop harder at the next.
 */
volatile sig_atomic_t *catch_stop_signals(void);

/*
 * After getopt_long() (optstring starting with ':') returned @c ('?' or
 * ':'): say which option of `cbt @cmd' was wrong, quoting it. Returns CBT_EXIT_USAGE (2).
 */
int bad_option(const char *cmd, int c, char *argv[]);
/* `cbt @cmd: <what> `@arg''; returns CBT_EXIT_USAGE (2), the exit status for usage errors. */
int bad_argument(const char *cmd, const char *what, const char *arg, const char *hint);

#endif /* CBT_SUBCOMMANDS_H */
