# Operability of the aggregator (issue #7): audit log, HTTP status server,
# status page in a browser, kill -9 recovery.
pfl_add_test(test_audit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_audit.c
	DEPS pfl_aggregator TIMEOUT 60)
