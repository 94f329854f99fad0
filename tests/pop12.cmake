# Issue #12 item 1: the simulator's population of up to a billion clients
# (sim/src/population.c, sched.c, limits.c). pop12_sim reaches the
# simulator's internals (sim_int.h) through its static library.
pfl_add_test(pop12_sim SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pop12_sim.c
	DEPS pfl_sim TIMEOUT 900)
target_include_directories(pop12_sim PRIVATE ${PROJECT_SOURCE_DIR}/sim/src)
add_test(NAME pop12_capacity
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pop12_capacity.sh ${PROJECT_BINARY_DIR})
set_tests_properties(pop12_capacity PROPERTIES TIMEOUT 120)
# the simulator's worker pool, its draws from the aggregator's thread and
# the aggregator's notifications run together: in the TSan suite too
set_property(TEST pop12_sim APPEND PROPERTY LABELS tsan)
