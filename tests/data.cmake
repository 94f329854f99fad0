# Issue #13 "your model, your data": libsodium initialized by the library,
# model files read by their own metadata, CSV data in the daemons.
pfl_add_test(test_identity_noinit
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_identity_noinit.c
	DEPS pfl_crypto pfl_common TIMEOUT 60)
# privfl model: architecture from the file's metadata, --help, reasons.
add_test(NAME model_cli
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/model_cli.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(model_cli PROPERTIES TIMEOUT 60)
pfl_add_test(test_csv_stats SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_csv_stats.c
	DEPS pfl_model pfl_common m TIMEOUT 60)
# CSV data across 3 real daemons over tcp:// (needs python3-sklearn's
# wine_data.csv; skipped when it is not installed).
add_test(NAME csv_federation
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/csv_federation.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(csv_federation PROPERTIES TIMEOUT 240
	SKIP_RETURN_CODE 77 LABELS integration)
