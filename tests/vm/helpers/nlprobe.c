// SPDX-License-Identifier: GPL-2.0
/*
 * nlprobe: send one hand-built dm_cbt generic netlink request (guest helper).
 *
 *   nlprobe [-u UID] [-d] CMD [ATTR...]
 *
 * CMD is the command number (see include/uapi/linux/dm-cbt.h); -d sends it
 * as a dump. Each ATTR is TYPE:KIND=VALUE with KIND one of u32, u64, str
 * (NUL-terminated), raw (hex bytes, any length, to build malformed
 * attributes) or flag (no value). -u drops to UID before sending, to check
 * the permission test. Prints "errno=N" (0 when the kernel accepted it)
 * and, if the kernel said why, "msg=TEXT". Exits 0 when the kernel
 * answered, 2 when it could not be asked.
 *
 * It builds messages by hand on purpose: the cbt tool only sends valid
 * ones, and the point is to see what the kernel does with the others.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#define BUF 65536

static char req[BUF], resp[BUF];

static struct nlattr *put(struct nlmsghdr *nlh, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static struct nlmsghdr *start(uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)req;
	struct genlmsghdr *g;

	memset(req, 0, sizeof(req));
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = 1;
	nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	g = NLMSG_DATA(nlh);
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

/* Sends req; returns the first error (0 for success), prints extack text. */
static int exchange(int fd, int *family_id)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)req;

	if (send(fd, req, nlh->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, resp, sizeof(resp), 0);
		struct nlmsghdr *h;

		if (n < 0)
			return -errno;
		for (h = (struct nlmsghdr *)resp; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) {
				int err = h->nlmsg_type == NLMSG_ERROR ?
					  ((struct nlmsgerr *)NLMSG_DATA(h))->error :
					  *(int *)NLMSG_DATA(h);
				char *p = (char *)h + NLMSG_HDRLEN + sizeof(struct nlmsgerr);
				int left;

				if (h->nlmsg_type == NLMSG_DONE) {
					p = (char *)NLMSG_DATA(h) + sizeof(int);
				} else if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
					p += NLMSG_ALIGN(((struct nlmsgerr *)NLMSG_DATA(h))->msg.nlmsg_len) -
					     NLMSG_HDRLEN;
				}
				left = (char *)h + h->nlmsg_len - p;
				while (left >= NLA_HDRLEN) {
					struct nlattr *a = (struct nlattr *)p;

					if (a->nla_len < NLA_HDRLEN || a->nla_len > left)
						break;
					if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
						printf("msg=%s\n", (char *)a + NLA_HDRLEN);
					p += NLA_ALIGN(a->nla_len);
					left -= NLA_ALIGN(a->nla_len);
				}
				return err;
			}
			if (family_id && h->nlmsg_type == GENL_ID_CTRL) {
				struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
				int left = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

				while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN) {
					if (a->nla_type == CTRL_ATTR_FAMILY_ID)
						*family_id = *(uint16_t *)((char *)a + NLA_HDRLEN);
					left -= NLA_ALIGN(a->nla_len);
					a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
				}
			}
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int main(int argc, char **argv)
{
	int fd, opt, family = 0, dump = 0, uid = -1, err, i, one = 1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlattr *nests[8];
	unsigned int depth = 0;
	struct nlmsghdr *nlh;

	while ((opt = getopt(argc, argv, "u:d")) != -1) {
		if (opt == 'u')
			uid = atoi(optarg);
		else if (opt == 'd')
			dump = 1;
		else
			goto usage;
	}
	if (optind >= argc)
		goto usage;
	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("nlprobe: socket");
		return 2;
	}
	/* Without it the kernel sends no extack, and "msg=" never shows. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	nlh = start(GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	put(nlh, CTRL_ATTR_FAMILY_NAME, "dm_cbt", 7);
	err = exchange(fd, &family);
	if (err || !family) {
		fprintf(stderr, "nlprobe: family dm_cbt not found (%d)\n", err);
		return 2;
	}
	if (uid >= 0 && setuid(uid)) {
		perror("nlprobe: setuid");
		return 2;
	}
	nlh = start(family, dump ? NLM_F_DUMP : 0, atoi(argv[optind]));
	for (i = optind + 1; i < argc; i++) {
		char kind[8] = "", *eq = strchr(argv[i], '=');
		unsigned int type;
		uint8_t raw[4096];
		size_t n = 0;

		if (!strcmp(argv[i], "end")) {
			if (!depth)
				goto usage;
			depth--;
			nests[depth]->nla_len = (char *)nlh + nlh->nlmsg_len - (char *)nests[depth];
			continue;
		}
		if (sscanf(argv[i], "%u:%7[a-z0-9]", &type, kind) != 2)
			goto usage;
		if (!strcmp(kind, "nest")) {
			if (depth == sizeof(nests) / sizeof(nests[0]))
				goto usage;
			nests[depth++] = put(nlh, type | NLA_F_NESTED, NULL, 0);
			continue;
		}
		if (!strcmp(kind, "flag")) {
			put(nlh, type, NULL, 0);
			continue;
		}
		if (!eq)
			goto usage;
		eq++;
		if (!strcmp(kind, "u32")) {
			uint32_t v = strtoul(eq, NULL, 0);

			put(nlh, type, &v, sizeof(v));
		} else if (!strcmp(kind, "u64")) {
			uint64_t v = strtoull(eq, NULL, 0);

			put(nlh, type, &v, sizeof(v));
		} else if (!strcmp(kind, "str")) {
			put(nlh, type, eq, strlen(eq) + 1);
		} else if (!strcmp(kind, "raw")) {
			for (; eq[0] && eq[1] && n < sizeof(raw); eq += 2) {
				if (hexval(eq[0]) < 0 || hexval(eq[1]) < 0)
					goto usage;
				raw[n++] = hexval(eq[0]) << 4 | hexval(eq[1]);
			}
			put(nlh, type, raw, n);
		} else {
			goto usage;
		}
	}
	if (depth)
		goto usage;
	err = exchange(fd, NULL);
	printf("errno=%d\n", -err);
	return 0;
usage:
	fprintf(stderr, "Usage: nlprobe [-u UID] [-d] CMD [TYPE:u32|u64|str|raw=VALUE | TYPE:flag | TYPE:nest ... end]...\n");
	return 2;
}
