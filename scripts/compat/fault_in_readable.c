// SPDX-License-Identifier: GPL-2.0
/*
 * fault_in_readable() and fault_in_safe_writeable(), which return the bytes
 * not faulted in, came in 5.16; 5.10 has fault_in_pages_readable() and
 * fault_in_pages_writeable() (0 or -EFAULT; the latter stores zeroes).
 */
#include <linux/pagemap.h>

size_t probe(char __user *u, size_t n);
size_t probe(char __user *u, size_t n)
{
	return fault_in_readable(u, n) + fault_in_safe_writeable(u, n);
}
