# SPDX-License-Identifier: GPL-2.0
# Compile probes (not version checks), shared by kmod/ and pps/: each
# kmod/probes/NAME.c is compiled with this kernel's flags; success defines
# the macro given to nc_probe.
nc_probe_dir := $(src)/../kmod/probes
nc_probe = $(shell $(CC) $(NOSTDINC_FLAGS) $(LINUXINCLUDE) $(KBUILD_CPPFLAGS) \
	$(KBUILD_CFLAGS) $(KBUILD_CFLAGS_MODULE) -DMODULE \
	-DKBUILD_BASENAME='"probe"' -DKBUILD_MODNAME='"probe"' \
	-D__KBUILD_MODNAME=kmod_probe -Werror -fsyntax-only \
	$(nc_probe_dir)/$(1).c >/dev/null 2>&1 && echo -D$(2))
