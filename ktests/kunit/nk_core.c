// SPDX-License-Identifier: GPL-2.0
/*
 * The libnanokernel core (nanokernel.c, nk_ppsest.c) compiled into the
 * KUnit module: the suite tests the very code nanoclock.ko runs, built by
 * the kernel's compiler and flags.
 */
#include "../../libnanokernel/nanokernel.c"
#include "../../libnanokernel/nk_ppsest.c"
