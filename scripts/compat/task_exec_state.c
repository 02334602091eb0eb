// SPDX-License-Identifier: GPL-2.0
/*
 * struct task_exec_state (in 7.2, not in 6.12) took the user namespace that
 * owns a process's memory from mm->user_ns.
 */
#include <linux/sched.h>
#include <linux/sched/exec_state.h>

struct user_namespace *probe(struct task_struct *t);
struct user_namespace *probe(struct task_struct *t)
{
	return rcu_dereference(t->exec_state)->user_ns;
}
