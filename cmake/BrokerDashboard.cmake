# BrokerDashboard.cmake - nanotime_broker_dashboard_source(VAR): sets VAR to
# a C++ source, generated in the current binary directory by
# EmbedFiles.cmake, that carries the broker dashboard's files
# (daemon/broker/dashboard/; daemon/broker/dashboard.hpp says why they are
# compiled in). Regenerated when a file changes. Used by the broker library
# and by the fuzz targets' own project.
set(NANOTIME_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/EmbedFiles.cmake)
set(NANOTIME_DASHBOARD_DIR ${CMAKE_CURRENT_LIST_DIR}/../daemon/broker/dashboard)

function(nanotime_broker_dashboard_source var)
  set(files ${NANOTIME_DASHBOARD_DIR}/index.html ${NANOTIME_DASHBOARD_DIR}/dashboard.js
            ${NANOTIME_DASHBOARD_DIR}/dashboard.css ${NANOTIME_DASHBOARD_DIR}/favicon.svg)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/dashboard_files.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${out} -DNAMESPACE=nanotime::broker
            -DHEADER=broker/dashboard.hpp "-DFILES=${files}" -P ${NANOTIME_EMBED_SCRIPT}
    DEPENDS ${files} ${NANOTIME_EMBED_SCRIPT}
    COMMENT "Embedding the broker dashboard's files"
    VERBATIM)
  set(${var} ${out} PARENT_SCOPE)
endfunction()
