# Operability of the aggregator (issue #7): audit log, HTTP status server,
# status page in a browser, kill -9 recovery.
pfl_add_test(test_audit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_audit.c
	DEPS pfl_aggregator TIMEOUT 60)
add_test(NAME http_status COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/http_check.sh
	${PROJECT_BINARY_DIR})
set_tests_properties(http_status PROPERTIES TIMEOUT 180 LABELS integration)
# Needs /usr/bin/chromium (Debian package chromium); fails without it.
add_test(NAME browser_status
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/browser_status.sh ${PROJECT_BINARY_DIR})
set_tests_properties(browser_status PROPERTIES TIMEOUT 240 LABELS integration)
# kill -9 of the aggregator during training, finishing, checkpoint writing
# and at random; then a corrupt newest checkpoint (about 25 s).
add_test(NAME kill9 COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kill9.sh
	${PROJECT_BINARY_DIR})
set_tests_properties(kill9 PROPERTIES TIMEOUT 600 LABELS integration)
# make install into a temporary prefix; a program builds with pkg-config.
add_test(NAME install_check
	COMMAND ${PROJECT_SOURCE_DIR}/dist/check-install.sh ${PROJECT_BINARY_DIR})
set_tests_properties(install_check PROPERTIES TIMEOUT 120 LABELS integration)
pfl_add_test(test_http SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_http.c
	DEPS pfl_aggregator PkgConfig::SODIUM Threads::Threads TIMEOUT 120)
# nng 1.5.2 can drop an HTTP handler (240 bytes) when a server is released
# while requests are in flight (test_close_under_load does exactly that);
# that leak is nng's, so LeakSanitizer ignores allocations made in libnng
# for this test only.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/test_http.lsan "leak:libnng.so\n")
set_tests_properties(test_http PROPERTIES ENVIRONMENT
	"LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_BINARY_DIR}/test_http.lsan")

# Issue #14 item 9: exit status 0 at the privacy budget, as every doc says.
add_test(NAME budget_exit
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/budget_exit.sh ${PROJECT_BINARY_DIR})
set_tests_properties(budget_exit PROPERTIES TIMEOUT 120 LABELS integration)
