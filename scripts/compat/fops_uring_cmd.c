// SPDX-License-Identifier: GPL-2.0
/*
 * struct file_operations has ->uring_cmd (IORING_OP_URING_CMD) from 5.19 on;
 * 5.10 has neither it nor struct io_uring_cmd.
 */
#include <linux/fs.h>
#include <linux/stddef.h>

size_t probe(void);
size_t probe(void)
{
	return offsetof(struct file_operations, uring_cmd);
}
