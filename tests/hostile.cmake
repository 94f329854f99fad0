# End-to-end hostile input against a running aggregator (issue #6): forged,
# unknown, revoked, replayed, stale, foreign, truncated, oversized, absurdly
# sized and mistyped messages while an honest client completes its rounds.
pfl_add_test(test_hostile SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_hostile.c
	DEPS pfl_aggregator pfl_client pfl_proto pfl_crypto Threads::Threads
	TIMEOUT 120)
