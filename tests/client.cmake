pfl_add_test(test_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pipeline.c
	DEPS pfl_client)
pfl_add_test(test_client_policy
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_client_policy.c
	DEPS pfl_client TIMEOUT 60)
# The daemon: pinning at start, --help, and docs/CLIENT.md's policy example
# against a real aggregator.
add_test(NAME client_policy_daemon
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/client_policy.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(client_policy_daemon PROPERTIES TIMEOUT 120
	LABELS integration)
