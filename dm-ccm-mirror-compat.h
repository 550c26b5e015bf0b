/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-ccm-mirror: the kernel API differences between the supported kernels
 * (6.1 LTS and 6.12 LTS), each behind one named helper, detected by
 * feature where possible.  No other file has kernel-version conditionals.
 */
#ifndef DM_CCM_MIRROR_COMPAT_H
#define DM_CCM_MIRROR_COMPAT_H

#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/ioprio.h>

/*
 * 6.5 replaced fmode_t by blk_mode_t (BLK_OPEN_*) for block device opens,
 * including dm_get_device() and dm_table_get_mode().
 */
#ifdef BLK_OPEN_WRITE
#define CCM_MODE_WRITE	BLK_OPEN_WRITE
#else
#define CCM_MODE_WRITE	FMODE_WRITE
#endif

/* True if @ti's table was loaded read-write.  Any context. */
static inline bool ccm_table_writable(struct dm_target *ti)
{
	return !!(dm_table_get_mode(ti->table) & CCM_MODE_WRITE);
}

/* Open @path for @ti with the table's own mode.  Constructor context. */
static inline int ccm_get_device(struct dm_target *ti, const char *path,
				 struct dm_dev **result)
{
	return dm_get_device(ti, path, dm_table_get_mode(ti->table), result);
}

/*
 * Synchronous dm_io() with the default priority.  dm_io() gained its ioprio
 * argument in 6.9; Debian's 6.1.y has it backported, so both supported
 * kernels take it.  Process context.
 */
static inline int ccm_dm_io(struct dm_io_request *req, unsigned int n,
			    struct dm_io_region *where)
{
	return dm_io(req, n, where, NULL, IOPRIO_DEFAULT);
}

#endif /* DM_CCM_MIRROR_COMPAT_H */
