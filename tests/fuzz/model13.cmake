# Issue #13 item 1: the custom-model layout builder (model/src/layout.c).
pfl_add_fuzzer(fuzz_layout SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_layout.c
	DEPS pfl_model)
