# portrel as a Debian tool: the built binary prints its man page and its bash,
# zsh and fish completions (`portrel --generate KIND`, from its own command line
# definition) at build time; they are installed where man and the shells look,
# and `cpack -G DEB` packs them with the binary (the `runtime` component), its
# dependencies found by dpkg-shlibdeps.
set(_docs ${PROJECT_BINARY_DIR}/docs)
set(_portrel $<TARGET_FILE:portrel_cli>)
add_custom_command(
  OUTPUT ${_docs}/portrel.1 ${_docs}/portrel.1.gz ${_docs}/portrel.bash ${_docs}/_portrel
         ${_docs}/portrel.fish
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_docs}
  COMMAND ${_portrel} --generate man > ${_docs}/portrel.1
  COMMAND gzip -9 -n -c ${_docs}/portrel.1 > ${_docs}/portrel.1.gz
  COMMAND ${_portrel} --generate bash > ${_docs}/portrel.bash
  COMMAND ${_portrel} --generate zsh > ${_docs}/_portrel
  COMMAND ${_portrel} --generate fish > ${_docs}/portrel.fish
  DEPENDS portrel_cli
  COMMENT "portrel --generate: man page and shell completions" VERBATIM)
add_custom_target(portrel_docs ALL
  DEPENDS ${_docs}/portrel.1.gz ${_docs}/portrel.bash ${_docs}/_portrel ${_docs}/portrel.fish)

install(FILES ${_docs}/portrel.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT runtime)
install(FILES ${_docs}/portrel.bash RENAME portrel
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT runtime)
install(FILES ${_docs}/_portrel
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions COMPONENT runtime)
install(FILES ${_docs}/portrel.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT runtime)
# `portrel record` as a service (not enabled by the package: systemctl enable --now).
install(FILES ${PROJECT_SOURCE_DIR}/packaging/portrel-record.service
        DESTINATION lib/systemd/system COMPONENT runtime)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME portrel)
set(CPACK_PACKAGE_VENDOR portrel)
set(CPACK_PACKAGE_CONTACT "portrel maintainers <portrel@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "which processes hold which network ports, and how they share them")
set(CPACK_PACKAGE_DESCRIPTION
    "portrel shows the many-to-many relation between processes and the network ports
they hold, in every network namespace: which processes hold a port and how they
share it (inherited, SO_REUSEPORT, dual stack), which ports a process holds, what
is wrong with how ports are held, and why a bind() would fail. Output as a table,
JSON or CSV, and SQL over the relation.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# The tool only: the library, headers and CMake files are the `development` part.
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};portrel;runtime;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
include(CPack)
