# Issue #13 item 3: federated evaluation (library clients over tcp://, no
# central test set; with and without secure aggregation; a hostile client).
pfl_add_test(eval13_fedeval SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/eval13_fedeval.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto pfl_model PkgConfig::SODIUM Threads::Threads m
	TIMEOUT 600 LABELS tsan)
# docs/EMBEDDING.md's real-aggregator example, compiled and run against a
# privfl-aggregator process with keys on disk.
add_test(NAME eval13_embed_real
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/eval13_embed_real.sh
		${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} ${CMAKE_C_COMPILER})
set_tests_properties(eval13_embed_real PROPERTIES TIMEOUT 300 LABELS integration)
# privfl-client's own held-out data (eval_fraction, eval_data) end to end.
add_test(NAME eval13_daemon
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/eval13_daemon.sh ${PROJECT_BINARY_DIR})
set_tests_properties(eval13_daemon PROPERTIES TIMEOUT 300 LABELS integration)
