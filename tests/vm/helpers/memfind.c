// SPDX-License-Identifier: GPL-2.0
/*
 * memfind: the byte offset of the first place NEEDLE's contents occur in
 * FILE, for a case that must damage one known stretch of an image (busybox
 * grep has no byte offsets):
 *
 *   memfind FILE NEEDLE
 *
 * Prints the offset; exit status 1 when it does not occur.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void *map(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) || !st.st_size) {
		perror(path);
		return NULL;
	}
	*len = st.st_size;
	p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror(path);
		return NULL;
	}
	return p;
}

int main(int argc, char *argv[])
{
	size_t hlen, nlen;
	const char *h, *n, *at;

	if (argc != 3) {
		fprintf(stderr, "usage: memfind FILE NEEDLE\n");
		return 2;
	}
	h = map(argv[1], &hlen);
	n = map(argv[2], &nlen);
	if (!h || !n)
		return 2;
	at = memmem(h, hlen, n, nlen);
	if (!at)
		return 1;
	printf("%zu\n", (size_t)(at - h));
	return 0;
}
