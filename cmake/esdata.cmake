# ESData (TS-0003 §8.5): the end-to-end security library of src/e2e/esdata.{c,h}, usable alone by C
# applications (cjose, jansson and GnuTLS only: no part of the CSE), linked by warden_core (the
# CSE's keyless syntax check of contentInfo's contentSecurity) and by warden-cli (its ESData
# options, tools/warden-cli-esdata.c).
add_library(warden_esdata STATIC src/e2e/esdata.c src/e2e/jose_compact.c)
target_include_directories(warden_esdata PUBLIC src)
target_compile_options(warden_esdata PRIVATE ${WARDEN_WARNINGS})
target_compile_definitions(warden_esdata PRIVATE _GNU_SOURCE)
target_link_libraries(warden_esdata PUBLIC PkgConfig::CJOSE PkgConfig::JANSSON PkgConfig::GNUTLS)
target_link_libraries(warden_core PUBLIC warden_esdata)
target_sources(warden-cli PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tools/warden-cli-esdata.c)
