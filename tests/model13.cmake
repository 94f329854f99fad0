# Issue #13 items 1-2: custom-model layouts, the Python client.
pfl_add_test(test_model13_layout
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/model13_layout.c
	DEPS pfl_client pfl_model m)
