// SPDX-License-Identifier: GPL-2.0
/*
 * struct io_uring_cmd points at the whole SQE (->sqe, in
 * <linux/io_uring/cmd.h>; 6.12), not at its command bytes only (->cmd, in
 * <linux/io_uring.h>; 6.1).
 */
#include <linux/io_uring/cmd.h>

const void *probe(const struct io_uring_cmd *c);
const void *probe(const struct io_uring_cmd *c)
{
	return c->sqe->cmd;
}
