pfl_add_test(test_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pipeline.c
	DEPS pfl_client)
pfl_add_test(test_client_policy
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_client_policy.c
	DEPS pfl_client TIMEOUT 60)
