# Identities and the allow-list (crypto/ identity part).
pfl_add_test(test_identity SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_identity.c
	DEPS pfl_crypto PkgConfig::SODIUM)
pfl_add_test(test_keyset SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_keyset.c
	DEPS pfl_crypto PkgConfig::SODIUM)
