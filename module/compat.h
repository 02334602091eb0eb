/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the one place where kernel versions differ.
 *
 * Each difference is detected by compiling a small probe against the target
 * kernel's headers (scripts/compat-probe.sh runs scripts/compat/NAME.c and
 * writes XPC_HAVE_NAME into compat_probed.h beside the module sources before
 * the build) and is shimmed here, with a comment naming the kernel that
 * changed. No other file tests kernel versions.
 */
#ifndef _XPCOPY_COMPAT_H
#define _XPCOPY_COMPAT_H

#include <linux/eventfd.h>

#include "compat_probed.h"

/* Linux 6.8 dropped the count argument of eventfd_signal(). */
static inline void xpc_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef XPC_HAVE_EVENTFD_SIGNAL_1ARG
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#endif /* _XPCOPY_COMPAT_H */
