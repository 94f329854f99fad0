# The aggregator's request admission (issue #11): allow-list and revocation
# list before any replay state, clock skew; calls the internal pfli_serve.
pfl_add_test(test_agg_admission SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_agg_admission.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto Threads::Threads TIMEOUT 120)
target_include_directories(test_agg_admission PRIVATE ${PROJECT_SOURCE_DIR}/aggregator/src)
