# Issue #14: one bad client (failing training, refusing policy, wrong
# server key) must not stall a federation.
pfl_add_test(test_badclient SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_badclient.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto pfl_model PkgConfig::SODIUM Threads::Threads
	TIMEOUT 600)
