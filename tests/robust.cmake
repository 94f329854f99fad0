# Robustness of the aggregator itself (issue #11, items 14-16).
# Central noise drawn while idle clients check in: the data race on the
# aggregator's generator that the TSan suite (make test-tsan) reports.
pfl_add_test(test_agg_race SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_agg_race.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto Threads::Threads
	TIMEOUT 120)
# Files that name clients (audit.log, checkpoints) and their directories
# are the owner's only after a run, also where an older version left them
# open.
pfl_add_test(test_agg_files SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_agg_files.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto Threads::Threads
	TIMEOUT 120)
# Buffers that may hold a plaintext update are zeroed before free: every
# free() of the test binary goes through a wrapper that looks.
pfl_add_test(test_wipe SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_wipe.c
	DEPS pfl_common)
target_link_options(test_wipe PRIVATE -Wl,--wrap=free)
# The descriptor limit against max_connections: refused at start when they
# do not fit (ulimit -n 256); a fitting cap keeps checkpoints working while
# 400 connections are held (issue #11, item 15).
add_test(NAME fd_limit COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fd_limit.sh
	${PROJECT_BINARY_DIR})
set_tests_properties(fd_limit PROPERTIES TIMEOUT 180 LABELS integration)
