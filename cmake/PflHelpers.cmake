# Project-wide flags and the three helpers every module uses.

add_compile_definitions(_POSIX_C_SOURCE=200809L)
set(PFL_WARN_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wformat=2 -Wvla)
if(PFL_WERROR)
	list(APPEND PFL_WARN_FLAGS -Werror)
endif()
if(PFL_SANITIZE)
	set(PFL_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
		-fno-omit-frame-pointer)
	add_compile_options(${PFL_SAN_FLAGS})
	add_link_options(${PFL_SAN_FLAGS})
endif()
if(PFL_TSAN)
	if(PFL_SANITIZE)
		message(FATAL_ERROR "PFL_TSAN and PFL_SANITIZE exclude each other")
	endif()
	# -O1: TSan's slowdown (5-15x) on top of -O0 would not fit the suite
	# into make test's time budget.
	set(PFL_TSAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer -g -O1)
	add_compile_options(${PFL_TSAN_FLAGS})
	add_link_options(-fsanitize=thread)
	# target_clones resolvers run before TSan's runtime is up and crash
	# in its instrumentation: one code path (accum.c) under TSan.
	add_compile_definitions(PFL_NO_MULTIVERSION)
endif()

# pfl_add_module(NAME SOURCES src... DEPS target... [PRIVATE_DEPS target...])
# Builds the static library pfl_NAME with include/ public and src/ private.
function(pfl_add_module name)
	cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
	add_library(pfl_${name} STATIC ${M_SOURCES})
	target_include_directories(pfl_${name}
		PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
		       $<INSTALL_INTERFACE:include>
		PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
	target_compile_options(pfl_${name} PRIVATE ${PFL_WARN_FLAGS})
	target_link_libraries(pfl_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
	set_target_properties(pfl_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# pfl_add_program(NAME SOURCES src... DEPS target...)
function(pfl_add_program name)
	cmake_parse_arguments(P "" "" "SOURCES;DEPS" ${ARGN})
	add_executable(${name} ${P_SOURCES})
	target_compile_options(${name} PRIVATE ${PFL_WARN_FLAGS})
	target_link_libraries(${name} PRIVATE ${P_DEPS})
endfunction()

# pfl_add_test(NAME SOURCES src... DEPS target... [TIMEOUT s] [LABELS l...])
# A cmocka executable registered with CTest; the test runs from the build
# directory with PFL_SOURCE_DIR pointing at the checkout (for tests/vectors).
function(pfl_add_test name)
	cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 180)
	endif()
	add_executable(${name} ${T_SOURCES})
	target_compile_options(${name} PRIVATE ${PFL_WARN_FLAGS})
	target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
	target_link_libraries(${name} PRIVATE ${T_DEPS} PkgConfig::CMOCKA)
	add_test(NAME ${name} COMMAND ${name})
	set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
		ENVIRONMENT "PFL_SOURCE_DIR=${PROJECT_SOURCE_DIR};PFL_BUILD_DIR=${PROJECT_BINARY_DIR}")
	if(T_LABELS)
		set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
	endif()
endfunction()

# pfl_add_fuzzer(NAME SOURCE file DEPS target...)
# Always builds NAME_replay (the target linked with tests/fuzz/replay_main.c)
# and registers a CTest that replays tests/fuzz/corpus/NAME/. With PFL_FUZZ
# and clang it also builds the libFuzzer binary NAME.
function(pfl_add_fuzzer name)
	cmake_parse_arguments(F "" "SOURCE" "DEPS" ${ARGN})
	add_executable(${name}_replay ${F_SOURCE}
		${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
	target_compile_options(${name}_replay PRIVATE ${PFL_WARN_FLAGS})
	target_link_libraries(${name}_replay PRIVATE ${F_DEPS} pfl_common)
	add_test(NAME ${name}_corpus COMMAND ${name}_replay
		${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
	set_tests_properties(${name}_corpus PROPERTIES TIMEOUT 300 LABELS fuzz)
	if(PFL_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
		add_executable(${name} ${F_SOURCE})
		target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
		target_link_libraries(${name} PRIVATE ${F_DEPS})
	endif()
endfunction()

if(PFL_FUZZ)
	# Coverage instrumentation for every library the fuzzers link.
	add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
	add_link_options(-fsanitize=address,undefined)
endif()
