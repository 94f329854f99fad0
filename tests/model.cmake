# model/: training engine, datasets, partitioners, model files.
pfl_add_test(test_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c
	DEPS pfl_model m TIMEOUT 300)
pfl_add_test(test_model_train
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model_train.c
	DEPS pfl_model m TIMEOUT 300)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/test_model_data.c)
	pfl_add_test(test_model_data SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model_data.c
		DEPS pfl_model ZLIB::ZLIB m)
endif()
