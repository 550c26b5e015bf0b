/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-ccm-mirror: the kernel API differences between the supported kernels
 * (6.1 LTS and 6.12 LTS), each behind one named helper, detected by
 * feature where possible.  No other file has kernel-version conditionals.
 */
#ifndef DM_CCM_MIRROR_COMPAT_H
#define DM_CCM_MIRROR_COMPAT_H

#include <linux/crypto.h>
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

/*
 * 6.3 changed crypto_completion_t from
 * void (*)(struct crypto_async_request *, int) to void (*)(void *, int),
 * the new one receiving the data given to aead_request_set_callback().
 * CCM_CRYPTO_DONE_ADAPTERS(fn) defines both adapters for
 * void fn(void *data, int err); CCM_CRYPTO_DONE(fn) is the one this
 * kernel's type takes (chosen by type, not by version).
 */
#define CCM_CRYPTO_DONE_ADAPTERS(fn)					\
static void fn##_new(void *data, int err)				\
{									\
	fn(data, err);							\
}									\
static void fn##_old(struct crypto_async_request *areq, int err)	\
{									\
	fn##_new(areq->data, err);					\
}

#define CCM_CRYPTO_DONE(fn)						\
	__builtin_choose_expr(__builtin_types_compatible_p(		\
				crypto_completion_t, void (*)(void *, int)), \
			      fn##_new, fn##_old)

#endif /* DM_CCM_MIRROR_COMPAT_H */
