# Documentation checks: docs/CONFIG.md matches the programs' settings
# tables, and the EMBEDDING.md example compiles against the build tree and
# runs a small in-process federation.
add_test(NAME docs_config_uptodate
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs_config_uptodate.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(docs_config_uptodate PROPERTIES TIMEOUT 60)
add_test(NAME docs_examples
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs_examples.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} ${CMAKE_C_COMPILER})
set_tests_properties(docs_examples PROPERTIES TIMEOUT 120)
