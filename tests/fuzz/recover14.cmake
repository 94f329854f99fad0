# The checkpoint's SEC_REPORTS section (aggregator/src/ckpt_reports.c):
# what a resume reads to write the rounds.csv rows a kill -9 lost.
pfl_add_fuzzer(fuzz_ckpt_reports
	SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_ckpt_reports.c
	DEPS pfl_aggregator)
foreach(t fuzz_ckpt_reports_replay fuzz_ckpt_reports)
	if(TARGET ${t})
		target_include_directories(${t} PRIVATE
			${PROJECT_SOURCE_DIR}/aggregator/src)
	endif()
endforeach()
