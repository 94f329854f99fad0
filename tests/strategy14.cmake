# Server strategies on a real federation (issue #14 item 11).
# test_strategy_sim: FedAdam at server_lr 1 is named in an ERROR (2 rounds;
# every suite). strategy_defaults: each strategy with its defaults keeps up
# with FedAvg over 20 rounds. Its 6 federations take about 60-120 s in
# Release on a loaded 2-core machine and several times that under ASan or
# TSan, so it is registered in the Release suite only.
pfl_add_test(test_strategy_sim
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_strategy_sim.c
	DEPS pfl_sim TIMEOUT 300)
if(NOT PFL_SANITIZE AND NOT PFL_TSAN)
	add_test(NAME strategy_defaults COMMAND test_strategy_sim defaults)
	set_tests_properties(strategy_defaults PROPERTIES TIMEOUT 900
		LABELS slow)
endif()
# The divergence check runs on the aggregator's reporter thread.
set_property(TEST test_strategy_sim APPEND PROPERTY LABELS tsan)
