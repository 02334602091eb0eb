// SPDX-License-Identifier: GPL-2.0
/*
 * The task work callback of io_uring_cmd_complete_in_task() is an
 * io_req_tw_func_t, (struct io_tw_req, io_tw_token_t), in 7.2; 6.1 and 6.12
 * call it with (struct io_uring_cmd *, unsigned int issue_flags).
 */
#include <linux/io_uring/cmd.h>

struct io_uring_cmd *probe(struct io_tw_req tw_req);
struct io_uring_cmd *probe(struct io_tw_req tw_req)
{
	return io_uring_cmd_from_tw(tw_req);
}
