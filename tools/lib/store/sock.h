/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sockets the store's threads move image bytes through: the image
 * writer and readers see a plain file descriptor (segment.c, remote.c).
 */
#ifndef CBT_SOCK_H
#define CBT_SOCK_H

#include <stddef.h>

/*
 * A one-way socket pair: @sv[1] writes, @sv[0] reads (both close-on-exec).
 * A socket rather than a pipe so a writer whose reader went away gets
 * EPIPE from cbt_write_all(), never SIGPIPE. 0 or -errno.
 */
int cbt_sock_pair(int sv[2]);
/* Write all of @p to @fd (a socket without SIGPIPE, or any file): 0 or -errno. */
int cbt_write_all(int fd, const void *p, size_t len);

#endif /* CBT_SOCK_H */
