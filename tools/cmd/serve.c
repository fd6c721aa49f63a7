// SPDX-License-Identifier: GPL-2.0
/*
 * cbt serve: a restore point of a chain exported over NBD by nbdkit in the
 * foreground (docs/mount.md, "Serving a restore point"). `cbt serve DEVICE
 * --snapshot' (a live snapshot with its changed blocks) is
 * cmd_serve_snapshot(), in its own file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/crypt.h"
#include "image/s3chain.h"
#include "image/view.h"
#include "mount/nbd.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s serve DIR|FILE [--at N] --socket PATH\n"
		"       %s serve DIR|FILE [--at N] --tcp ADDR:PORT [--tls-certificates DIR | --tls-psk FILE]\n"
		"       %s serve DEVICE --snapshot ...   (see `%s serve DEVICE --snapshot --help')\n\n"
		"Exports a restore point of chain DIR (the last image, or image --at N)\n"
		"read-only over NBD until interrupted, with nbdkit in the foreground, so\n"
		"that qemu can boot it (-drive file=nbd:unix:PATH) or nbdcopy, qemu-img and\n"
		"nbd-client can read it. A chain with a missing, broken or foreign image is\n"
		"refused before the server listens. With --tls-certificates or --tls-psk\n"
		"clients must use TLS (nbdkit --tls=require). DIR may be a chain in S3,\n"
		"s3://BUCKET/PREFIX (credentials from the environment or --s3-config;\n"
		"docs/storage.md): frames are read with ranged GETs.\n\n"
		"  --at N                 serve image number N (a file name or UUID works too)\n"
		"  --socket PATH          listen on a Unix socket (a stale one is replaced)\n"
		"  --tcp ADDR:PORT        listen on TCP ([ADDR]:PORT for IPv6)\n"
		"  --tls-certificates DIR nbdkit's x509 certificate directory\n"
		"  --tls-psk FILE         nbdkit's pre-shared keys file\n"
		"  --key FILE             the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE       S3 endpoint, region and keys\n",
		PROG_NAME, PROG_NAME, PROG_NAME, PROG_NAME);
}

/* `cbt serve DEVICE --snapshot': any block device argument, or --snapshot, is the snapshot form. */
static bool snapshot_form(int argc, char *argv[])
{
	struct stat st;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		/* Options only the snapshot form has: it says --snapshot is missing. */
		if (!strcmp(argv[i], "--snapshot") || !strncmp(argv[i], "--cow", 5) ||
		    !strncmp(argv[i], "--bitmap-name", 13) || !strcmp(argv[i], "--freeze") ||
		    !strcmp(argv[i], "--no-freeze") || !strcmp(argv[i], "--force"))
			return true;
		if (argv[i][0] != '-' && !stat(argv[i], &st) && S_ISBLK(st.st_mode))
			return true;
	}
	return false;
}

/* ADDR:PORT or [ADDR]:PORT into @addr and @port (pointers into @s, which is changed). */
static int split_tcp(char *s, char **addr, char **port)
{
	char *colon = strrchr(s, ':');
	uint32_t p;

	if (!colon || colon == s || cbt_parse_u32(colon + 1, &p) || !p || p > 65535)
		return -EINVAL;
	*colon = 0;
	*port = colon + 1;
	*addr = s;
	if (s[0] == '[') {
		size_t n = strlen(s);

		if (n < 3 || s[n - 1] != ']')
			return -EINVAL;
		s[n - 1] = 0;
		*addr = s + 1;
	}
	return 0;
}

int serve_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "at", required_argument, NULL, 'a' },
		{ "image", required_argument, NULL, 'a' },
		{ "socket", required_argument, NULL, 's' },
		{ "tcp", required_argument, NULL, 't' },
		{ "tls-certificates", required_argument, NULL, 'C' },
		{ "tls-psk", required_argument, NULL, 'K' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *at = NULL, *sock = NULL, *tcp = NULL, *certs = NULL, *psk = NULL, *s3cfg = NULL;
	char s3_arg[4096 + 16];
	struct cbt_view_opts vo = { 0 };
	char *addr = NULL, *port = NULL;
	char chain_arg[4096 + 8], at_arg[128], tls_arg[4096 + 32], key_arg[4096 + 8];
	const char *nargv[20];
	struct cbt_view *v;
	int c, ret, n = 0;

	if (snapshot_form(argc, argv))
		return cmd_serve_snapshot(argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			at = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			tcp = optarg;
			break;
		case 'C':
			certs = optarg;
			break;
		case 'K':
			psk = optarg;
			break;
		case 'Y':
			s3cfg = optarg;
			break;
		case KEY_OPT:
			if ((ret = key_option("serve", optarg)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("serve", c, argv);
		}
	}
	if (argc - optind != 1 || !sock == !tcp) {
		if (argc - optind == 1)
			cbt_fail(CBT_EXIT_USAGE, "%s serve: give one of --socket and --tcp", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (certs && psk)
		return bad_argument("serve", "give one of --tls-certificates and --tls-psk, not",
				    psk, NULL);
	if ((certs || psk) && !tcp)
		return bad_argument("serve", "TLS is for --tcp; a Unix socket is local:",
				    certs ? certs : psk, NULL);
	if (tcp && split_tcp(tcp, &addr, &port))
		return bad_argument("serve", "--tcp takes ADDR:PORT, not", tcp, NULL);
	if ((size_t)snprintf(chain_arg, sizeof(chain_arg), "chain=%s", argv[optind]) >=
	    sizeof(chain_arg) || (at && (size_t)snprintf(at_arg, sizeof(at_arg), "at=%s", at) >=
				  sizeof(at_arg)))
		return bad_argument("serve", "too long:", argv[optind], NULL);
	/* the plugin checks again, but a clear message here beats nbdkit's */
	if (s3cfg && (size_t)snprintf(s3_arg, sizeof(s3_arg), "s3-config=%s", s3cfg) >=
	    sizeof(s3_arg))
		return bad_argument("serve", "too long:", s3cfg, NULL);
	ret = chain_argument("serve", argv[optind]);
	if (ret)
		return ret;
	vo.s3_config = s3cfg;
	ret = cbt_view_open(&v, argv[optind], at, &vo);
	if (ret) {
		cbt_perror("cbt serve", ret);
		return cbt_exit_status(ret);
	}
	cbt_view_close(v);
	/* nbdkit makes its own view of a chain in S3; exec runs no exit handler */
	cbt_s3chain_src_done();
	/* nbdkit leaves its socket behind: the next serve on the path replaces it. */
	if (sock) {
		ret = cbt_unix_socket_reclaim(sock);
		if (ret) {
			cbt_perror("cbt serve", ret);
			return cbt_exit_status(ret);
		}
	}

	nargv[n++] = "nbdkit";
	nargv[n++] = "-f";
	nargv[n++] = "-r";
	nargv[n++] = "--log=stderr";
	if (sock) {
		nargv[n++] = "-U";
		nargv[n++] = sock;
	} else {
		nargv[n++] = "-i";
		nargv[n++] = addr;
		nargv[n++] = "-p";
		nargv[n++] = port;
	}
	if (certs || psk) {
		nargv[n++] = "--tls=require";
		snprintf(tls_arg, sizeof(tls_arg), "--tls-%s=%s", certs ? "certificates" : "psk",
			 certs ? certs : psk);
		nargv[n++] = tls_arg;
	}
	nargv[n++] = cbt_nbdkit_plugin();
	nargv[n++] = chain_arg;
	if (at)
		nargv[n++] = at_arg;
	/* the key file's path: nbdkit's argv is visible to every user, the key is not */
	if (cbt_key_path()) {
		snprintf(key_arg, sizeof(key_arg), "key=%s", cbt_key_path());
		nargv[n++] = key_arg;
	}
	if (s3cfg)
		nargv[n++] = s3_arg;
	nargv[n] = NULL;
	fflush(stdout);
	execvp(nargv[0], (char *const *)nargv);
	ret = -errno;
	cbt_perror("cbt serve: running nbdkit (install nbdkit)", ret);
	return CBT_EXIT_ERROR;
}
