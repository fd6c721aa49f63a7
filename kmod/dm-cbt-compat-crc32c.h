/* SPDX-License-Identifier: GPL-2.0 */
/*
 * crc32c() for the metadata checksums, apart from dm-cbt-compat.h so that
 * the pure-logic dm-cbt-format.c (which KUnit builds on its own) needs
 * nothing else. See dm-cbt-compat.h for why the header moved in 6.14.
 */
#ifndef DM_CBT_COMPAT_CRC32C_H
#define DM_CBT_COMPAT_CRC32C_H

#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
#include <linux/crc32.h>
#else
#include <linux/crc32c.h>
#endif

#endif /* DM_CBT_COMPAT_CRC32C_H */
