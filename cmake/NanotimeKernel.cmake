# Kernel-side build: drives kbuild for nanotime's out-of-tree modules against
# two kernel trees.
#
#  * stock: the installed Debian linux-headers-*-amd64 (discovered, never
#    hard-coded; override with -DNANOTIME_STOCK_KDIR=...).
#  * test:  the KUnit/debug test kernel built from linux-source-6.1 by
#    ktests/build-test-kernel.sh and cached outside the build tree.
#
# Targets: kmods-stock, testkernel, kmods-test. The module objects land in
# ${CMAKE_BINARY_DIR}/kbuild-<flavour>/ (a copy of the kernel-side sources,
# so the two flavours never share object files).

if(NOT NANOTIME_STOCK_KDIR)
  file(GLOB _nt_hdrs LIST_DIRECTORIES true /usr/src/linux-headers-*-amd64)
  if(_nt_hdrs)
    list(SORT _nt_hdrs COMPARE NATURAL ORDER DESCENDING)
    list(GET _nt_hdrs 0 _nt_hdr)
    set(NANOTIME_STOCK_KDIR "${_nt_hdr}" CACHE PATH "Stock kernel headers")
  endif()
endif()
if(NANOTIME_STOCK_KDIR)
  get_filename_component(_nt_name "${NANOTIME_STOCK_KDIR}" NAME)
  string(REGEX REPLACE "^linux-headers-" "" NANOTIME_STOCK_KREL "${_nt_name}")
  message(STATUS "nanotime: stock kernel ${NANOTIME_STOCK_KREL} (${NANOTIME_STOCK_KDIR})")
else()
  message(WARNING "nanotime: no linux-headers-*-amd64 installed; kernel modules will not build")
endif()

set(NANOTIME_KBUILD_STOCK "${CMAKE_BINARY_DIR}/kbuild-stock")
set(NANOTIME_KBUILD_TEST "${CMAKE_BINARY_DIR}/kbuild-test")
set(NANOTIME_TESTKERNEL_PATHFILE "${CMAKE_BINARY_DIR}/testkernel.path")

add_custom_target(kmods-stock
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/kbuild.sh "${NANOTIME_STOCK_KDIR}"
          "${CMAKE_SOURCE_DIR}" "${NANOTIME_KBUILD_STOCK}"
  COMMENT "kbuild: nanotime modules for the stock kernel ${NANOTIME_STOCK_KREL}"
  USES_TERMINAL)

add_custom_target(testkernel
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/testkernel-path.sh
          "${NANOTIME_TESTKERNEL_PATHFILE}"
  COMMENT "test kernel: build or reuse the cached linux-source-6.1 build"
  USES_TERMINAL)

add_custom_target(kmods-test
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/kbuild.sh "@${NANOTIME_TESTKERNEL_PATHFILE}"
          "${CMAKE_SOURCE_DIR}" "${NANOTIME_KBUILD_TEST}"
  DEPENDS testkernel
  COMMENT "kbuild: nanotime modules and KUnit suites for the test kernel"
  USES_TERMINAL)

add_custom_target(kmods ALL DEPENDS kmods-stock kmods-test)
