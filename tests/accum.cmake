# The aggregator's plain update accumulation (aggregator/src/accum.c, an
# internal part of pfl_aggregator): compiled into the test, as in
# bench/aggregate.cmake, so the test needs only accum.c and pfl_common.
pfl_add_test(test_accum SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_accum.c
	${PROJECT_SOURCE_DIR}/aggregator/src/accum.c
	DEPS pfl_common)
target_include_directories(test_accum PRIVATE ${PROJECT_SOURCE_DIR}/aggregator/src)
