#!/bin/bash
# check-no-openssl-needed.sh BINARY - run after nanotimed is linked: fails
# the build when the binary names libssl or libcrypto as needed, which
# happens when code starts calling an OpenSSL function that
# daemon/nanotimed/openssl_on_demand.cpp does not forward yet (the linker
# then takes it from the real library, and a plain client maps 1.7 MiB of
# OpenSSL at start-up). Lists the functions to add.
set -euo pipefail
binary=${1:?usage: check-no-openssl-needed.sh BINARY}
if readelf -d "$binary" | grep -Eq 'NEEDED.*\[lib(ssl|crypto)\.so'; then
	echo "$binary needs libssl/libcrypto at start-up; add forwarders to" \
		"daemon/nanotimed/openssl_on_demand.cpp for:" >&2
	missing=$(nm -D --undefined-only "$binary" | awk '/@OPENSSL_/ { sub(/@.*/, "", $2); print "  " $2 }')
	# A call in an object file that --gc-sections dropped still makes the
	# library needed, and leaves no undefined symbol in the binary.
	echo "${missing:-  (none left in the binary: a call --gc-sections dropped; see the undefined symbols of the objects linked)}" >&2
	exit 1
fi
