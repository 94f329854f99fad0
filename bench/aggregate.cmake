# Server aggregation throughput against memory bandwidth measured in the
# same run (bench/run.sh runs: bench_aggregate). Standalone: the loops it
# times are copies of aggregator/src/serve.c's (static there).
pfl_add_program(bench_aggregate SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_aggregate.c
	DEPS m)
