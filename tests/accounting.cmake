# The aggregator's privacy accounting (aggregator/src/accounting.c, issue
# #11): each test performs the attack or computes the bound on its own.
pfl_add_test(test_accounting SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_accounting.c
	DEPS pfl_aggregator pfl_client pfl_model pfl_proto pfl_crypto Threads::Threads m
	TIMEOUT 180)
