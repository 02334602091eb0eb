// SPDX-License-Identifier: GPL-2.0
/*
 * Linux 6.11 to 6.13 keep the copy of an io_uring_cmd's SQE at the start of
 * the request's async data (struct uring_cache), but a non-blocking issue
 * that returns -EAGAIN leaves ioucmd->sqe pointing into the submission ring
 * ("io_uring/uring_cmd: switch sqe to async_data on EAGAIN" fixed it in
 * 6.14; 6.12's stable updates lack it). That is io_uring's own code, not its
 * headers: only the version tells, so this probe builds in that window of
 * kernels that point at the whole SQE (->sqe). module/compat.h makes the
 * copy and points at it there before a punt to io-wq. (6.10 may have the
 * same code; it was not checked, and is left out.)
 */
#include <linux/version.h>
#include <linux/io_uring/cmd.h>
#include <linux/io_uring_types.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
#error "io_uring moves ioucmd->sqe to its copy itself"
#endif

void probe(struct io_uring_cmd *c);
void probe(struct io_uring_cmd *c)
{
	c->sqe = cmd_to_io_kiocb(c)->async_data;
}
