# Fuzz targets of privacy/: the checkpointed accountant state.
pfl_add_fuzzer(fuzz_accountant_state
	SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_accountant_state.c
	DEPS pfl_privacy PkgConfig::SODIUM)
