/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpcopy: the owner of a grant's window, and whether it still runs on the
 * address space the grant captured.
 */
#ifndef _XPCOPY_OWNER_H
#define _XPCOPY_OWNER_H

#include <linux/list.h>
#include <linux/types.h>
#include <linux/wait.h>

struct mm_struct;
struct pid;
struct xpc_owner_mm;

/**
 * struct xpc_owner - the process a window belongs to
 * @mm: its address space when the window was made, by mmgrab(): the memory
 *	itself is not kept alive
 * @tgid: the process, by get_pid()
 * @gone: set, for good, once the process was seen to have exec'd or exited
 * @wait: woken when @gone is set
 * @watch: the subscription to @mm's teardown, shared by every owner of @mm
 * @node: on @watch's list
 * @on_gone: if set, called (in any context, maybe more than once) once
 *	@gone is set
 */
struct xpc_owner {
	struct mm_struct *mm;
	struct pid *tgid;
	bool gone;
	wait_queue_head_t *wait;
	struct xpc_owner_mm *watch;
	struct list_head node;
	void (*on_gone)(struct xpc_owner *o);
};

int xpc_owner_init(struct xpc_owner *o, wait_queue_head_t *wait,
		   void (*on_gone)(struct xpc_owner *o));
void xpc_owner_destroy(struct xpc_owner *o);
bool xpc_owner_alive(struct xpc_owner *o);
bool xpc_process_runs_on(struct pid *tgid, struct mm_struct *mm);
void xpc_owner_exit(void);

#endif /* _XPCOPY_OWNER_H */
