# The audit log verifier (aggregator/src/audit.c).
pfl_add_fuzzer(fuzz_audit SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_audit.c
	DEPS pfl_aggregator)
