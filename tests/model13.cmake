# Issue #13 items 1-2: custom-model layouts, the Python client.
pfl_add_test(test_model13_layout
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model13_layout.c
	DEPS pfl_client pfl_model m)
if(NOT PFL_SANITIZE)
	add_test(NAME model13_torch
		COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/model13_torch.sh
			${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
	set_tests_properties(model13_torch PROPERTIES TIMEOUT 600
		LABELS integration)
endif()
