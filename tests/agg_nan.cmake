# A running aggregator refuses plain updates with NaN/Inf, keeps no trace of
# them, and completes the round with the member's good update.
pfl_add_test(test_agg_nan SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_agg_nan.c
	DEPS pfl_aggregator pfl_client pfl_model pfl_proto pfl_crypto Threads::Threads
	TIMEOUT 120)
