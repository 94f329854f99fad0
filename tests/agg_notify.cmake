# The aggregator's notifications to an in-process embedder (the simulator's
# pacing): drawing, then the plans ready for exactly the members.
pfl_add_test(test_agg_notify SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_agg_notify.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto Threads::Threads
	TIMEOUT 120)
