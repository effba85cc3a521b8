# ntpcore: the sans-IO NTP protocol core (no sockets, no clocks, no syscalls;
# see README-core.md). Kept in its own file so that the clang++ fuzz build
# (tests/fuzz) can build exactly this library and nothing else of the daemon.
set(_ntpcore_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(ntpcore STATIC
  ${_ntpcore_dir}/util/digest.cpp
  ${_ntpcore_dir}/util/siphash.cpp
  ${_ntpcore_dir}/util/openssl_init.cpp
  ${_ntpcore_dir}/leap/leap_seconds.cpp
  ${_ntpcore_dir}/algorithm/pi_servo.cpp
  ${_ntpcore_dir}/time/ntp_time.cpp
  ${_ntpcore_dir}/net/socket_address.cpp
  ${_ntpcore_dir}/packet/codec.cpp
  ${_ntpcore_dir}/packet/codec_error.cpp
  ${_ntpcore_dir}/packet/reference_id.cpp
  ${_ntpcore_dir}/algorithm/on_wire.cpp
  ${_ntpcore_dir}/algorithm/clock_filter.cpp
  ${_ntpcore_dir}/algorithm/selection.cpp
  ${_ntpcore_dir}/algorithm/cluster.cpp
  ${_ntpcore_dir}/algorithm/combine.cpp
  ${_ntpcore_dir}/algorithm/system_process.cpp
  ${_ntpcore_dir}/discipline/correction_ledger.cpp
  ${_ntpcore_dir}/discipline/source_estimator.cpp
  ${_ntpcore_dir}/discipline/clock_controller.cpp
  ${_ntpcore_dir}/source/selectable_source.cpp
  ${_ntpcore_dir}/source/ntp_source.cpp
  ${_ntpcore_dir}/source/refclock_source.cpp
  ${_ntpcore_dir}/source/pulse_numbering.cpp
  ${_ntpcore_dir}/refclock/sock_sample.cpp
  ${_ntpcore_dir}/refclock/shm_segment.cpp
  ${_ntpcore_dir}/refclock/phc_reading.cpp
  ${_ntpcore_dir}/source/pool.cpp
  ${_ntpcore_dir}/source/client_core.cpp
  ${_ntpcore_dir}/server/access_list.cpp
  ${_ntpcore_dir}/server/rate_limiter.cpp
  ${_ntpcore_dir}/server/ntp_server.cpp
  ${_ntpcore_dir}/server/interleaved_table.cpp
  ${_ntpcore_dir}/nts/ke_records.cpp
  ${_ntpcore_dir}/nts/ke_pool_records.cpp
  ${_ntpcore_dir}/nts/pool_tokens.cpp
  ${_ntpcore_dir}/nts/ke_server.cpp
  ${_ntpcore_dir}/nts/ke_client.cpp
  ${_ntpcore_dir}/nts/aead.cpp
  ${_ntpcore_dir}/nts/aead_siv.cpp
  ${_ntpcore_dir}/nts/aead_gcm_siv.cpp
  ${_ntpcore_dir}/nts/polyval.cpp
  ${_ntpcore_dir}/nts/key_store.cpp
  ${_ntpcore_dir}/nts/cookie.cpp
  ${_ntpcore_dir}/nts/nts_ef.cpp
  ${_ntpcore_dir}/nts/nts_server.cpp
  ${_ntpcore_dir}/nts/nts_client.cpp)
target_include_directories(ntpcore PUBLIC ${_ntpcore_dir})
# OpenSSL 3 (libcrypto only): SipHash through EVP_MAC, AES-SIV (NTS) from
# CMAC and AES-CTR, AES-128-GCM-SIV (NTS) from AES-ECB. Nettle: SHA-1 and MD5
# (util/digest.cpp says why not EVP).
find_package(OpenSSL 3.0 REQUIRED COMPONENTS Crypto)
find_package(PkgConfig REQUIRED)
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)
target_link_libraries(ntpcore PUBLIC OpenSSL::Crypto PkgConfig::NETTLE)
target_compile_features(ntpcore PUBLIC cxx_std_20)
