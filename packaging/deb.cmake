# The Debian package that scripts/package makes with CPack from a Release build (issue 15).
# Its contents are the project's install rules; this file only says how to wrap them.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zipmedic)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "zipmedic authors")
# lintian refuses a maintainer address on localhost (maintainer-address-is-on-localhost).
set(CPACK_PACKAGE_CONTACT "zipmedic authors <zipmedic@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "verify, scan and repair ZIP backups before a restore")
# CPack puts the summary above this as the first line of Description and indents the rest; an
# empty line becomes " .", as Debian policy 5.6.13 asks.
set(CPACK_PACKAGE_DESCRIPTION
"zipmedic tells whether a ZIP backup is whole before it is needed, and if it is
not, which entry is damaged, at which byte, and why. verify decodes every entry
(stored, deflate, bzip2, LZMA) and checks CRC-32, sizes, end records, ZIP64 and
the safety of every name, from a file or from a pipe while it downloads. scan
walks the local headers without trusting the central directory. repair writes
a new central directory for every entry that survived a cut or a writer that
never finished, and restore extracts only what verified.

Reports come as text or as JSON for CI jobs, with documented exit statuses.
Encrypted SysReptor backups (.zip.crypt) are checked without writing plaintext.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends comes from dpkg-shlibdeps on the binary (each library's Debian runtime package with the
# version it was linked against), so a library added to the build brings its package along.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# lintian: unstripped-binary-or-object otherwise; the debug info stays in the build tree.
set(CPACK_STRIP_FILES ON)
# Directories as Debian expects them (lintian non-standard-dir-perm), whatever the builder's umask.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)

# Debian policy 12.7: a native package (a version without a Debian revision, as here) carries its
# changelog as changelog.gz, gzipped -9n like the man page. The package test checks that its top
# entry names the project version.
add_custom_command(OUTPUT changelog.gz
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/packaging/changelog changelog
  COMMAND gzip -9nf changelog
  DEPENDS packaging/changelog VERBATIM)
add_custom_target(deb-changelog ALL DEPENDS changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/changelog.gz DESTINATION share/doc/zipmedic)
