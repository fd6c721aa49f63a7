/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_VERSION
#define CBT_VERSION "0.1.0"
#endif
