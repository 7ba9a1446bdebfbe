// SPDX-License-Identifier: GPL-2.0
/*
 * Whether new memfds are executable: the vm.memfd_noexec policy.
 *
 * Each pid namespace keeps its own value.  What applies in a namespace is
 * the highest value of the namespace and its ancestors, so a namespace can
 * only make the policy stricter than its parent's, never weaker; a new
 * namespace starts from what applies in its parent.
 *
 *   0  memfd_create() without MFD_EXEC or MFD_NOEXEC_SEAL makes an
 *      executable memfd, as it always did
 *   1  without either flag, MFD_NOEXEC_SEAL is implied
 *   2  as 1, and MFD_EXEC is refused with EACCES
 *
 * Until some namespace sets a value above 0, every namespace has 0 and
 * memfd_create() skips the lookup: the static key below turns it on.
 */
#include <linux/capability.h>
#include <linux/init.h>
#include <linux/jump_label.h>
#include <linux/kernel.h>
#include <linux/memfd.h>
#include <linux/pid_namespace.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sysctl.h>
#include <uapi/linux/memfd.h>

DEFINE_STATIC_KEY_FALSE(memfd_noexec_scope_set);

/* The value that applies in @ns: the highest of @ns and its ancestors. */
static int memfd_noexec_scope(struct pid_namespace *ns)
{
	int scope = MEMFD_NOEXEC_SCOPE_EXEC;

	for (; ns; ns = ns->parent)
		scope = max(scope, READ_ONCE(ns->memfd_noexec_scope));
	return scope;
}

/**
 * memfd_noexec_inherit() - the policy a new pid namespace starts with
 * @parent: the namespace it is created in
 *
 * Context: any; the namespace chain is stable while @parent is referenced.
 * Return: the value that applies in @parent.
 */
int memfd_noexec_inherit(struct pid_namespace *parent)
{
	return memfd_noexec_scope(parent);
}

/**
 * __memfd_noexec_policy() - apply vm.memfd_noexec to memfd_create() flags
 * @flags: the caller's flags; MFD_NOEXEC_SEAL is added when implied
 *
 * A caller that names neither MFD_EXEC nor MFD_NOEXEC_SEAL gets what the
 * policy of its pid namespace implies, silently: old programs keep
 * working.  A caller that asks for MFD_EXEC where the policy forbids it is
 * refused.
 *
 * Called by memfd_noexec_policy() once some namespace has set a value.
 *
 * Context: process context, in the caller of memfd_create().
 * Return: 0, or -EACCES if MFD_EXEC is refused.
 */
int __memfd_noexec_policy(unsigned int *flags)
{
	int scope = memfd_noexec_scope(task_active_pid_ns(current));

	if (*flags & MFD_EXEC) {
		if (scope < MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED)
			return 0;
		pr_notice_ratelimited("%s[%d]: memfd_create(MFD_EXEC) refused: vm.memfd_noexec=%d\n",
				      current->comm, task_pid_nr(current),
				      scope);
		return -EACCES;
	}
	if (!(*flags & MFD_NOEXEC_SEAL) &&
	    scope >= MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL)
		*flags |= MFD_NOEXEC_SEAL;
	return 0;
}

#ifdef CONFIG_SYSCTL
/*
 * /proc/sys/vm/memfd_noexec reads the value that applies in the reader's
 * pid namespace.  A write sets the writer's namespace's own value; it needs
 * CAP_SYS_ADMIN over that namespace, and a value below the one that applies
 * in the parent namespace is refused with EINVAL.
 */
static int memfd_noexec_sysctl(struct ctl_table *table, int write,
			       void *buffer, size_t *lenp, loff_t *ppos)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	int floor = memfd_noexec_scope(ns->parent);
	int top = MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED;
	int scope = max(floor, READ_ONCE(ns->memfd_noexec_scope));
	struct ctl_table t = {
		.procname = table->procname,
		.data = &scope,
		.maxlen = sizeof(scope),
		.mode = table->mode,
		.extra1 = &floor,
		.extra2 = &top,
	};
	int ret;

	if (write && !ns_capable(ns->user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	ret = proc_dointvec_minmax(&t, write, buffer, lenp, ppos);
	if (!ret && write) {
		/* Enabled before the value is seen: never missed. */
		if (scope > MEMFD_NOEXEC_SCOPE_EXEC)
			static_branch_enable(&memfd_noexec_scope_set);
		WRITE_ONCE(ns->memfd_noexec_scope, scope);
	}
	return ret;
}

static struct ctl_table memfd_noexec_table[] = {
	{
		.procname	= "memfd_noexec",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= memfd_noexec_sysctl,
	},
	{ }
};

static int __init memfd_noexec_sysctl_init(void)
{
	register_sysctl_init("vm", memfd_noexec_table);
	return 0;
}
subsys_initcall(memfd_noexec_sysctl_init);
#endif /* CONFIG_SYSCTL */
