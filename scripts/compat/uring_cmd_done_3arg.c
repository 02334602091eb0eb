// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring_cmd_done() lost its res2 argument (7.2: io_uring_cmd_done32()
 * took it over); 6.1 and 6.12 take (cmd, ret, res2, issue_flags).
 */
#include <linux/io_uring/cmd.h>

void probe(struct io_uring_cmd *c, unsigned int issue_flags);
void probe(struct io_uring_cmd *c, unsigned int issue_flags)
{
	io_uring_cmd_done(c, 0, issue_flags);
}
