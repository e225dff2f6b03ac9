# make install (`cmake --install build [--prefix P]`, DESTDIR honoured): the programs, the
# configuration, the systemd unit and sysusers.d entry, the manual pages.
#   cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_SYSCONFDIR=/etc   # a distribution layout
#   make -C build install DESTDIR=/tmp/stage
include(GNUInstallDirs)
set(WARDEN_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING "systemd unit directory (relative: under the prefix)")
set(WARDEN_SYSUSERSDIR "lib/sysusers.d" CACHE STRING "sysusers.d directory (relative: under the prefix)")
# The service keeps its state where systemd's StateDirectory= and LogsDirectory= put them, whatever
# the prefix: the installed warden.conf names these, so wardenctl finds the server's store.
set(WARDEN_STATE_DIR "/var/lib/warden")
set(WARDEN_LOGS_DIR "/var/log/warden")

# daemons and admin tools (section 8), clients (section 1)
install(TARGETS warden wardenctl warden-das RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS warden-cli warden-coap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# warden.conf as shipped, with the service's store and audit paths; an existing one is kept (the new
# one is installed beside it as warden.conf.dist)
file(READ ${CMAKE_CURRENT_SOURCE_DIR}/warden.conf WARDEN_CONF)
string(REPLACE "path = data/warden.db" "path = ${WARDEN_STATE_DIR}/warden.db" WARDEN_CONF "${WARDEN_CONF}")
string(REGEX REPLACE "(\\[audit\\][^[]*\npath =)[^\n]*" "\\1 ${WARDEN_LOGS_DIR}/audit.log" WARDEN_CONF "${WARDEN_CONF}")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/install/warden.conf "${WARDEN_CONF}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/warden.conf)
install(CODE "
    set(dir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}/warden\")
    if(IS_ABSOLUTE \"${CMAKE_INSTALL_SYSCONFDIR}\")
        set(dir \"${CMAKE_INSTALL_SYSCONFDIR}/warden\")
    endif()
    set(name warden.conf)
    if(EXISTS \"\$ENV{DESTDIR}\${dir}/warden.conf\")
        set(name warden.conf.dist)
        message(STATUS \"Keeping \$ENV{DESTDIR}\${dir}/warden.conf; the shipped one is warden.conf.dist beside it\")
    endif()
    file(INSTALL \"${CMAKE_CURRENT_BINARY_DIR}/install/warden.conf\" DESTINATION \"\${dir}\"
         RENAME \${name} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
")
# the hardened unit (docs/systemd/warden.service.in) and the dedicated user
set(WARDEN_SBIN "${CMAKE_INSTALL_FULL_SBINDIR}")
set(WARDEN_CONF_PATH "${CMAKE_INSTALL_FULL_SYSCONFDIR}/warden/warden.conf")
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/docs/systemd/warden.service.in ${CMAKE_CURRENT_BINARY_DIR}/install/warden.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/install/warden.service DESTINATION ${WARDEN_SYSTEMD_UNITDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/docs/systemd/warden.sysusers DESTINATION ${WARDEN_SYSUSERSDIR}
        RENAME warden.conf)

# manual pages (groff man source in docs/man/); warden.conf(5) lists every key of the configuration
# table, taken from `warden --help` so that it cannot drift
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/man/warden.conf.5
    COMMAND ${CMAKE_COMMAND} -DWARDEN=$<TARGET_FILE:warden> -DIN=${CMAKE_CURRENT_SOURCE_DIR}/docs/man/warden.conf.5.in
            -DOUT=${CMAKE_CURRENT_BINARY_DIR}/man/warden.conf.5 -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/manconf.cmake
    DEPENDS warden ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/warden.conf.5.in ${CMAKE_CURRENT_SOURCE_DIR}/cmake/manconf.cmake
    COMMENT "Generating warden.conf(5)")
add_custom_target(man ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/man/warden.conf.5)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/warden-cli.1 ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/warden-coap.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/man/warden.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/warden.8 ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/wardenctl.8
              ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/warden-das.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
