/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: grants, windows of a process's memory exported as file descriptors.
 */
#ifndef _XPCOPY_GRANT_H
#define _XPCOPY_GRANT_H

#include <uapi/linux/xpcopy.h>

struct xpc_grant;
struct xpc_xfer;

int xpc_grant_start(void);
void xpc_grant_stop(void);
int xpc_grant_create(struct xpcopy_grant *cmd,
		     struct xpcopy_grant __user *ucmd);
int xpc_grant_derive(struct xpcopy_grant_derive *cmd,
		     struct xpcopy_grant_derive __user *ucmd);
int xpc_grant_revoke(struct xpcopy_grant_revoke *cmd);
int xpc_grant_info(struct xpcopy_grant_info *cmd);

struct xpc_grant *xpc_grant_prepare(int fd, struct xpc_xfer *x,
				    struct xpcopy_iovec *riov, bool publish);
int xpc_grant_copy_fast(int fd, bool write, u64 local, u64 off, u64 len);
int xpc_grant_publish(struct xpc_grant *g, u64 seq);
void xpc_grant_finish(struct xpc_grant *g, struct xpc_xfer *x);

#endif /* _XPCOPY_GRANT_H */
