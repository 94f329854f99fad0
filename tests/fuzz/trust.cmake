# Fuzz targets for key files (crypto/) and the config parser (common/).
pfl_add_fuzzer(fuzz_keyfile SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_keyfile.c
	DEPS pfl_crypto)
pfl_add_fuzzer(fuzz_config SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_config.c
	DEPS pfl_common)
