# Load generator for one aggregator: N connections (bench/conns.sh runs it).
pfl_add_program(bench_conns SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_conns.c
	DEPS pfl_client pfl_model pfl_proto pfl_crypto pfl_common
	PkgConfig::SODIUM Threads::Threads)
