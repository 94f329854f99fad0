# Secure aggregation benchmarks (bench/run.sh runs: bench_secagg).
pfl_add_program(bench_secagg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_secagg.c
	DEPS pfl_crypto pfl_common PkgConfig::SODIUM)
# What one SecAgg+ round costs a device: memory and CPU outside training.
pfl_add_program(bench_client SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_client.c
	DEPS pfl_aggregator pfl_client pfl_model pfl_crypto pfl_common
	PkgConfig::SODIUM Threads::Threads m)
