# Fuzz targets for the protocol decoder (proto/).
pfl_add_fuzzer(fuzz_msg SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_msg.c
	DEPS pfl_proto)
