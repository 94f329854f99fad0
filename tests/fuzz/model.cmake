# model/ decoders of outside bytes: model files, IDX data, CSV data.
pfl_add_fuzzer(fuzz_safetensors SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_safetensors.c
	DEPS pfl_model)
pfl_add_fuzzer(fuzz_idx SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_idx.c
	DEPS pfl_model)
pfl_add_fuzzer(fuzz_csv SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_csv.c
	DEPS pfl_model)
pfl_add_fuzzer(fuzz_csv_stats SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_csv_stats.c
	DEPS pfl_model)
