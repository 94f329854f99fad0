# Protocol messages, replay window and transport (proto/).
pfl_add_test(test_msg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msg.c
	DEPS pfl_proto PkgConfig::MSGPACK PkgConfig::SODIUM)
pfl_add_test(test_msg_fields SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msg_fields.c
	DEPS pfl_proto PkgConfig::MSGPACK PkgConfig::SODIUM)
pfl_add_test(test_transport SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_transport.c
	DEPS pfl_proto nng::nng Threads::Threads TIMEOUT 120)
# nng 1.5.2 leaks a connection (its dialer's pipe, ~1.4 KiB) when a socket
# is closed while that connection is still being set up or torn down
# (privfl/transport.h; fixed upstream in 1.6.0). test_max_conns has the
# server refuse a connection that then redials; once in a CI run under
# ASan the close came first. The leak is nng's: LeakSanitizer ignores
# allocations made in libnng for this test only, as for test_http.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/test_transport.lsan "leak:libnng.so\n")
set_property(TEST test_transport APPEND PROPERTY ENVIRONMENT
	"LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_BINARY_DIR}/test_transport.lsan")
pfl_add_test(test_msg_replay SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msg_replay.c
	DEPS pfl_proto Threads::Threads)
pfl_add_test(test_transport_tls SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_transport_tls.c
	DEPS pfl_proto nng::nng TIMEOUT 120)
