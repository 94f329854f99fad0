# Selection, pace steering and small cohorts (issue #12, helper select12).
pfl_add_test(test_select12_secagg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_select12_secagg.c
	DEPS pfl_aggregator pfl_client pfl_model pfl_proto pfl_crypto Threads::Threads m
	TIMEOUT 300)
pfl_add_test(test_select12_small SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_select12_small.c
	DEPS pfl_aggregator pfl_client pfl_model pfl_proto pfl_crypto Threads::Threads m
	TIMEOUT 600)
