// SPDX-License-Identifier: GPL-2.0
/* The real transport: a generic netlink socket. Tests link a fake instead. */
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "kernel/genl.h"
#include "util/util.h"

static int sock_send(void *priv, const void *buf, size_t len)
{
	return mnl_socket_sendto(priv, buf, len) < 0 ? -errno : 0;
}

static ssize_t sock_recv(void *priv, void *buf, size_t len)
{
	ssize_t n = mnl_socket_recvfrom(priv, buf, len);

	return n < 0 ? -errno : n;
}

static void sock_close(void *priv)
{
	mnl_socket_close(priv);
}

int cbt_nl_open(struct cbt_nl **nlp)
{
	struct cbt_nl_transport tr = { sock_send, sock_recv, sock_close, NULL, 0 };
	struct mnl_socket *sock;
	int one = 1;

	*nlp = NULL;
	sock = mnl_socket_open(NETLINK_GENERIC);
	if (!sock)
		return cbt_err(-errno, "cannot open a generic netlink socket: %s", strerror(errno));
	/* Ask for extack messages, without our request echoed back. Old kernels lack these. */
	mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(sock);
		return cbt_err(err, "cannot bind a generic netlink socket: %s", strerror(-err));
	}
	tr.priv = sock;
	tr.portid = mnl_socket_get_portid(sock);
	return cbt_nl_init(nlp, &tr);
}
