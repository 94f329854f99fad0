pfl_add_test(test_sim SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sim.c
	DEPS pfl_sim TIMEOUT 600)
foreach(mode plain kill secagg killsa)
	add_test(NAME integration_tcp_${mode}
		COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration_tcp.sh ${PROJECT_BINARY_DIR} ${mode})
	set_tests_properties(integration_tcp_${mode} PROPERTIES TIMEOUT 300
		LABELS integration)
endforeach()
# A thread's log ceiling (the simulator's workers quiet their clients).
pfl_add_test(test_log SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_log.c
	DEPS pfl_common Threads::Threads TIMEOUT 60)
