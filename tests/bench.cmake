# The benchmark line convention (issue #17, docs/BENCHMARKS.md "Line
# convention"): every ratio that make bench prints compares the same
# workload.
#   bench_lines              every benchmark at smoke sizes, output checked
#   bench_lines_rejects_old  the checker rejects every comparison line of
#                            the output before the convention (and forged
#                            lines with differing or missing workloads)
add_test(NAME bench_lines_rejects_old
	COMMAND ${PROJECT_SOURCE_DIR}/bench/check_lines.sh
	${CMAKE_CURRENT_SOURCE_DIR}/vectors/bench/old_output.txt)
set_tests_properties(bench_lines_rejects_old PROPERTIES TIMEOUT 10
	PASS_REGULAR_EXPRESSION "bench lines: 34 comparison lines, 34 rejected")
if(PFL_BENCH)
	add_test(NAME bench_lines
		COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/bench_lines.sh
		${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
	set_tests_properties(bench_lines PROPERTIES TIMEOUT 300 LABELS bench)
endif()
