// SPDX-License-Identifier: GPL-2.0
/*
 * Test driver for the shared-mapping dirty helpers.
 *
 * /dev/test_mapping_dirty runs wp_shared_mapping_range() or
 * clean_record_shared_mapping_range() on a page range of a shmem file on
 * behalf of a test program, and hands back what the helper returned: the
 * count, the bitmap and its start/end range.  The helpers cover every
 * shared mapping of the file, in any process.  See test_mapping_dirty_uapi.h
 * for the interface; it exists solely for testing.
 */
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/magic.h>

#include "test_mapping_dirty_uapi.h"

/* The fields that only MAPPING_DIRTY_CLEAN uses. */
static bool mapping_dirty_has_clean_fields(const struct mapping_dirty_cmd *cmd)
{
	return cmd->bitmap_pgoff || cmd->bitmap || cmd->bitmap_bits ||
	       cmd->start || cmd->end;
}

/*
 * Check the file and range of @cmd.  Return the file, with a reference the
 * caller drops, and the range in pages; or an ERR_PTR().
 */
static struct file *
mapping_dirty_get_range(const struct mapping_dirty_cmd *cmd, pgoff_t *first,
			pgoff_t *nr)
{
	struct file *file;
	loff_t size;

	if (cmd->reserved || !cmd->length || !PAGE_ALIGNED(cmd->offset) ||
	    !PAGE_ALIGNED(cmd->length))
		return ERR_PTR(-EINVAL);
	if (cmd->fd > INT_MAX)
		return ERR_PTR(-EBADF);

	file = fget(cmd->fd);
	if (!file)
		return ERR_PTR(-EBADF);
	/* A regular file of tmpfs, which devtmpfs may be too. */
	if (!S_ISREG(file_inode(file)->i_mode) ||
	    file_inode(file)->i_sb->s_magic != TMPFS_MAGIC) {
		fput(file);
		return ERR_PTR(-ENODEV);
	}

	size = i_size_read(file_inode(file));
	if (cmd->offset > size || cmd->length > size - cmd->offset) {
		fput(file);
		return ERR_PTR(-ERANGE);
	}

	*first = cmd->offset >> PAGE_SHIFT;
	*nr = cmd->length >> PAGE_SHIFT;
	return file;
}

/* Copy @nbits of a user array of __u64 into @dst, and back. */
static int mapping_dirty_bitmap_in(unsigned long *dst, u64 __user *src,
				   unsigned long nbits)
{
	unsigned long i, nwords = DIV_ROUND_UP(nbits, 64);
	u64 word;

	if (BITS_PER_LONG == 64)
		return copy_from_user(dst, src, nwords * 8) ? -EFAULT : 0;

	for (i = 0; i < nwords; i++) {
		if (get_user(word, src + i))
			return -EFAULT;
		dst[2 * i] = lower_32_bits(word);
		dst[2 * i + 1] = upper_32_bits(word);
	}
	return 0;
}

static int mapping_dirty_bitmap_out(u64 __user *dst, const unsigned long *src,
				    unsigned long nbits)
{
	unsigned long i, nwords = DIV_ROUND_UP(nbits, 64);
	u64 word;

	if (BITS_PER_LONG == 64)
		return copy_to_user(dst, src, nwords * 8) ? -EFAULT : 0;

	for (i = 0; i < nwords; i++) {
		word = ((u64)src[2 * i + 1] << 32) | src[2 * i];
		if (put_user(word, dst + i))
			return -EFAULT;
	}
	return 0;
}

static int mapping_dirty_wp(struct mapping_dirty_cmd *cmd)
{
	struct file *file;
	pgoff_t first, nr;
	u64 t0;

	if (mapping_dirty_has_clean_fields(cmd))
		return -EINVAL;
	file = mapping_dirty_get_range(cmd, &first, &nr);
	if (IS_ERR(file))
		return PTR_ERR(file);

	t0 = ktime_get_ns();
	cmd->total = wp_shared_mapping_range(file->f_mapping, first, nr);
	cmd->time_ns = ktime_get_ns() - t0;
	fput(file);
	return 0;
}

static int mapping_dirty_clean(struct mapping_dirty_cmd *cmd)
{
	u64 __user *ubitmap = u64_to_user_ptr(cmd->bitmap);
	pgoff_t first, nr, start, end;
	unsigned long *bitmap;
	struct file *file;
	int ret;
	u64 t0;

	if (cmd->bitmap_bits > MAPPING_DIRTY_MAX_BITS)
		return -E2BIG;
	if (cmd->start < cmd->end && cmd->end > cmd->bitmap_bits)
		return -EINVAL;
	file = mapping_dirty_get_range(cmd, &first, &nr);
	if (IS_ERR(file))
		return PTR_ERR(file);

	ret = -EINVAL;
	if (cmd->bitmap_pgoff > first)
		goto out_file;
	ret = -ENOSPC;
	if (first + nr - cmd->bitmap_pgoff > cmd->bitmap_bits)
		goto out_file;

	ret = -ENOMEM;
	bitmap = kvcalloc(BITS_TO_LONGS(round_up(cmd->bitmap_bits, 64)),
			  sizeof(long), GFP_KERNEL);
	if (!bitmap)
		goto out_file;
	ret = mapping_dirty_bitmap_in(bitmap, ubitmap, cmd->bitmap_bits);
	if (ret)
		goto out_bitmap;

	start = cmd->start;
	end = cmd->end;
	t0 = ktime_get_ns();
	cmd->total = clean_record_shared_mapping_range(file->f_mapping, first,
						       nr, cmd->bitmap_pgoff,
						       bitmap, &start, &end);
	cmd->time_ns = ktime_get_ns() - t0;
	cmd->start = start;
	cmd->end = end;

	ret = mapping_dirty_bitmap_out(ubitmap, bitmap, cmd->bitmap_bits);
out_bitmap:
	kvfree(bitmap);
out_file:
	fput(file);
	return ret;
}

static long mapping_dirty_ioctl(struct file *filp, unsigned int command,
				unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct mapping_dirty_cmd cmd;
	int ret;

	if (command != MAPPING_DIRTY_WP && command != MAPPING_DIRTY_CLEAN)
		return -ENOTTY;
	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;

	if (command == MAPPING_DIRTY_WP)
		ret = mapping_dirty_wp(&cmd);
	else
		ret = mapping_dirty_clean(&cmd);
	if (ret)
		return ret;

	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

static const struct file_operations mapping_dirty_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= mapping_dirty_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

static struct miscdevice mapping_dirty_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "test_mapping_dirty",
	.fops	= &mapping_dirty_fops,
};

module_misc_device(mapping_dirty_dev);

MODULE_DESCRIPTION("Test driver for the shared-mapping dirty helpers");
MODULE_LICENSE("GPL");
