# Secure aggregation benchmarks (bench/run.sh runs: bench_secagg).
pfl_add_program(bench_secagg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_secagg.c
	DEPS pfl_crypto pfl_common PkgConfig::SODIUM)
