# Server aggregation throughput against memory bandwidth measured in the
# same run (bench/run.sh runs: bench_aggregate). It times the aggregator's
# own accumulation, aggregator/src/accum.c, compiled in (not through
# pfl_aggregator, so that the bench builds whatever state the rest of the
# module is in).
pfl_add_program(bench_aggregate SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_aggregate.c
	${PROJECT_SOURCE_DIR}/aggregator/src/accum.c
	DEPS pfl_common m)
target_include_directories(bench_aggregate PRIVATE ${PROJECT_SOURCE_DIR}/aggregator/src)
