# Training throughput of the model engine (bench/train.sh compares it
# with PyTorch in the same run).
if(TARGET pfl_model)
	pfl_add_program(bench_train SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_train.c
		DEPS pfl_model)
	pfl_add_program(bench_eval SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_eval.c
		DEPS pfl_model)
endif()
