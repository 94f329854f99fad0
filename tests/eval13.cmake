# Issue #13 item 3: federated evaluation (library clients over tcp://, no
# central test set; with and without secure aggregation; a hostile client).
pfl_add_test(eval13_fedeval SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/eval13_fedeval.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto pfl_model PkgConfig::SODIUM Threads::Threads m
	TIMEOUT 600)
