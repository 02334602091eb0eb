// SPDX-License-Identifier: GPL-2.0
/*
 * A uring_cmd can be marked cancelable (io_uring_cmd_mark_cancelable(),
 * IORING_URING_CMD_CANCELABLE), and ->uring_cmd() is then called again with
 * IO_URING_F_CANCEL at ring exit and task exit: in 6.12 and 7.2, not in 6.1.
 */
#include <linux/io_uring/cmd.h>

void probe(struct io_uring_cmd *c, unsigned int issue_flags);
void probe(struct io_uring_cmd *c, unsigned int issue_flags)
{
	if (!(issue_flags & IO_URING_F_CANCEL) &&
	    !(c->flags & IORING_URING_CMD_CANCELABLE))
		io_uring_cmd_mark_cancelable(c, issue_flags);
}
