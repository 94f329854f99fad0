# `cmake --install` / `make install`: the four programs, libprivfl.a (every
# module's objects in one archive) with the public headers and privfl.pc,
# the man pages, systemd units and example configs.
include(GNUInstallDirs)

set(PFL_INSTALL_MODULES sim aggregator client proto model privacy crypto common)
set(PFL_INSTALL_OBJECTS)
foreach(m ${PFL_INSTALL_MODULES})
	if(TARGET pfl_${m})
		list(APPEND PFL_INSTALL_OBJECTS $<TARGET_OBJECTS:pfl_${m}>)
		install(DIRECTORY ${PROJECT_SOURCE_DIR}/${m}/include/privfl
			DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
			FILES_MATCHING PATTERN "*.h")
	endif()
endforeach()
add_library(privfl_all STATIC ${PFL_INSTALL_OBJECTS})
set_target_properties(privfl_all PROPERTIES OUTPUT_NAME privfl
	LINKER_LANGUAGE C)
install(TARGETS privfl_all ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

foreach(p privfl privfl-aggregator privfl-client privfl-sim)
	if(TARGET ${p})
		install(TARGETS ${p} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
	endif()
endforeach()

# pkg-config: libsodium and msgpack have .pc files; nng (CMake package
# only), zlib and the C library parts are listed in Libs.
set(PFL_PC_EXTRA_LIBS "-lnng -lz -lm -pthread")
# Relocatable: prefix is found from the .pc file's own directory.
file(RELATIVE_PATH PFL_PC_TO_PREFIX
	"/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${PROJECT_SOURCE_DIR}/dist/privfl.pc.in
	${PROJECT_BINARY_DIR}/privfl.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/privfl.pc
	DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

file(GLOB PFL_MAN1 ${PROJECT_SOURCE_DIR}/docs/man/*.1)
install(FILES ${PFL_MAN1} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The units name the programs by absolute path, so the path is filled in
# when installing, from the prefix of that install (`cmake --install BUILD
# --prefix P` overrides the configured one; DESTDIR is not part of it).
# dist/check-install.sh (test install_check) runs systemd-analyze verify on
# the installed units.
foreach(u privfl-client privfl-aggregator)
	install(CODE "
		set(PFL_UNIT_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
		set(PFL_UNIT_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
		foreach(d PFL_UNIT_BINDIR PFL_UNIT_DOCDIR)
			if(NOT IS_ABSOLUTE \"\${\${d}}\")
				set(\${d} \"\${CMAKE_INSTALL_PREFIX}/\${\${d}}\")
			endif()
		endforeach()
		set(CMAKE_INSTALL_FULL_BINDIR \"\${PFL_UNIT_BINDIR}\")
		set(CMAKE_INSTALL_FULL_DOCDIR \"\${PFL_UNIT_DOCDIR}\")
		configure_file(\"${PROJECT_SOURCE_DIR}/dist/${u}.service.in\"
			\"${PROJECT_BINARY_DIR}/dist/install/${u}.service\" @ONLY)
		file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\"
			TYPE FILE FILES \"${PROJECT_BINARY_DIR}/dist/install/${u}.service\")
	")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/dist/client.conf
	${PROJECT_SOURCE_DIR}/dist/aggregator.conf
	DESTINATION ${CMAKE_INSTALL_DATADIR}/privfl/examples)
install(FILES ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md
	DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)
