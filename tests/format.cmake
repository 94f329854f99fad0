# The house format (.clang-format, clang-format 14) on every tracked C file.
add_test(NAME format_check
	COMMAND sh -c "git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror"
	WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(format_check PROPERTIES TIMEOUT 120)
