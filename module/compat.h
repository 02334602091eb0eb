/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the one place where kernel versions differ.
 *
 * Each difference is detected by compiling a small probe against the target
 * kernel's headers (scripts/compat-probe.sh writes compat_probed.h beside the
 * module sources before the build) and is shimmed here, with a comment naming
 * the kernel that changed. No other file tests kernel versions.
 */
#ifndef _XPCOPY_COMPAT_H
#define _XPCOPY_COMPAT_H

#endif /* _XPCOPY_COMPAT_H */
