// SPDX-License-Identifier: GPL-2.0
/*
 * struct fd is one word read through fd_file() (6.12, 7.2); 6.1 has a
 * ->file member.
 */
#include <linux/file.h>

struct file *probe(struct fd f);
struct file *probe(struct fd f)
{
	return fd_file(f);
}
