// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the superblock and copy-state slot parsers of
 * tools/ccm-format.c must accept any bytes without a crash or a sanitizer
 * report, and a superblock they accept must encode back to the same bytes.
 * Run by `make -C tools fuzz` (part of `make -C tools test`) for a bounded
 * time on the corpus in tests/fuzz-corpus/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ccm-format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[CCM_SB_BYTES], again[CCM_SB_BYTES];
	struct ccm_slot slot;
	struct ccm_sb sb;
	char why[256];

	if (size < CCM_SB_BYTES)
		return 0;
	memcpy(buf, data, CCM_SB_BYTES);
	if (ccm_sb_decode(buf, &sb, why, sizeof(why)) == CCM_SB_OK) {
		ccm_sb_encode(&sb, again);
		if (memcmp(buf, again, CCM_SB_BYTES))
			abort();
	}
	/* The rest of the input, as a slot with one 4 KiB bitmap each. */
	if (size >= 4096 * 3)
		ccm_slot_decode(data, 4096, &slot);
	return 0;
}
