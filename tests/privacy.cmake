# Tests of privacy/ (pfl_privacy): accountant, clipping, noise, quantization.
pfl_add_test(test_accountant
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_accountant.c
	DEPS pfl_privacy PkgConfig::SODIUM m)
pfl_add_test(test_privacy
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_privacy.c
	DEPS pfl_privacy PkgConfig::SODIUM m)
