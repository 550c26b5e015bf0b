#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the host scripts.  ccm_kernels: the releases of the kernels
# whose headers are installed (/lib/modules/*/build), oldest first: the
# kernels the project builds and tests for (the Makefile's KVERS).
ccm_kernels()
{
	local d

	for d in /lib/modules/*/build/Makefile; do
		[ -f "$d" ] && basename "$(dirname "$(dirname "$d")")"
	done | sort -V
}
