# Protocol messages, replay window and transport (proto/).
pfl_add_test(test_msg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msg.c
	DEPS pfl_proto PkgConfig::MSGPACK PkgConfig::SODIUM)
pfl_add_test(test_msg_fields SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msg_fields.c
	DEPS pfl_proto PkgConfig::MSGPACK PkgConfig::SODIUM)
pfl_add_test(test_transport SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_transport.c
	DEPS pfl_proto nng::nng Threads::Threads TIMEOUT 120)
pfl_add_test(test_msg_replay SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msg_replay.c
	DEPS pfl_proto Threads::Threads)
pfl_add_test(test_transport_tls SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_transport_tls.c
	DEPS pfl_proto nng::nng TIMEOUT 120)
