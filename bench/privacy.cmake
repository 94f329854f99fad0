# privacy/ benchmarks (bench/privacy.sh runs: bench_privacy).
pfl_add_program(bench_privacy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_privacy.c
	DEPS pfl_privacy pfl_common PkgConfig::SODIUM m)
