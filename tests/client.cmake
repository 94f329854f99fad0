pfl_add_test(test_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pipeline.c
	DEPS pfl_client)
