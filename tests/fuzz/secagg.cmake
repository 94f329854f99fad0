# Secure aggregation decoders: what the server accepts from clients and what
# a client accepts from the server.
pfl_add_fuzzer(fuzz_secagg_server
	SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_secagg_server.c
	DEPS pfl_crypto PkgConfig::SODIUM)
pfl_add_fuzzer(fuzz_secagg_client
	SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_secagg_client.c
	DEPS pfl_crypto PkgConfig::SODIUM)
