# Issue #13 items 1-2: custom-model layouts, the Python client.
pfl_add_test(test_model13_layout
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model13_layout.c
	DEPS pfl_client pfl_model m)
# PyTorch + 3 Python clients + the aggregator (docs/PYTHON.md).
add_test(NAME model13_torch
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/model13_torch.sh
		${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(model13_torch PROPERTIES TIMEOUT 600
	LABELS integration)

# Failing train functions, settings errors, Ctrl-C, another layout (NumPy
# only). In sanitizer builds the ASan-built libprivfl.so needs the ASan
# runtime loaded first into /usr/bin/python3 (Python's own allocations are
# not checked for leaks).
add_test(NAME model13_badtrain
	COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/model13_badtrain.py
		${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(model13_badtrain PROPERTIES TIMEOUT 300
	LABELS integration)
if(PFL_SANITIZE)
	execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
		OUTPUT_VARIABLE PFL_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
	set_tests_properties(model13_badtrain PROPERTIES ENVIRONMENT
		"LD_PRELOAD=${PFL_LIBASAN};ASAN_OPTIONS=detect_leaks=0")
	set_tests_properties(model13_torch PROPERTIES ENVIRONMENT
		"PFL_PY_PRELOAD=${PFL_LIBASAN}")
endif()

# make install: the package and libprivfl.so.0 work from the prefix.
add_test(NAME model13_install
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/model13_install.sh
		${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(model13_install PROPERTIES TIMEOUT 300)
if(PFL_SANITIZE)
	set_tests_properties(model13_install PROPERTIES ENVIRONMENT
		"LD_PRELOAD=${PFL_LIBASAN};ASAN_OPTIONS=detect_leaks=0")
endif()
