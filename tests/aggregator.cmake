pfl_add_test(test_strategy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_strategy.c
	DEPS pfl_aggregator)
pfl_add_test(test_config SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_config.c
	DEPS pfl_aggregator pfl_client)
