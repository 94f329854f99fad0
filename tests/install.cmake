# What an operator installs and reads (issue #14): the man pages' settings
# and --help agree with the programs' tables (the installed units are
# checked by install_check, dist/check-install.sh, in ops.cmake).
add_test(NAME docs_man_uptodate
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs_man_uptodate.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(docs_man_uptodate PROPERTIES TIMEOUT 60)
