# Secure aggregation (crypto/: prg, shamir, secagg) — owned by the secagg part.
pfl_add_test(test_prg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_prg.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 60)
pfl_add_test(test_shamir SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_shamir.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 60)
pfl_add_test(test_secagg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 120)
pfl_add_test(test_secagg_plus SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg_plus.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 120 LABELS slow)
pfl_add_test(test_secagg_attack SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg_attack.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 180)
pfl_add_test(test_secagg_malicious SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg_malicious.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 120)
