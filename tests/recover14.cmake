# Issue #14, bounded shutdown: a server closed mid-request (tcp://, ipc://,
# nng's reaper held up), an aggregator stopped mid-round, and clients
# stopped once their aggregator is gone, each within a bound.
pfl_add_test(test_shutdown SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_shutdown.c
	DEPS pfl_aggregator pfl_client pfl_proto nng::nng Threads::Threads
	TIMEOUT 300)
