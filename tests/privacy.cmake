# Tests of privacy/ (pfl_privacy): accountant, clipping, noise, quantization.
pfl_add_test(test_accountant
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_accountant.c
	DEPS pfl_privacy PkgConfig::SODIUM m)
pfl_add_test(test_accountant_pld
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_accountant_pld.c
	DEPS pfl_privacy m)
pfl_add_test(test_privacy
	SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_privacy.c
	DEPS pfl_privacy PkgConfig::SODIUM m)

# The privfl accountant command (tools/cmd_accountant.c), end to end.
if(TARGET privfl)
	add_test(NAME privfl_accountant_epsilon COMMAND privfl accountant
		--q 0.03547147502216967 --sigma 1.2 --steps 100 --delta 1e-5)
	set_tests_properties(privfl_accountant_epsilon PROPERTIES
		PASS_REGULAR_EXPRESSION "^epsilon=1\\.98611[0-9]* order=7\\.8\n$")
	add_test(NAME privfl_accountant_pld COMMAND privfl accountant
		--q 0.03547147502216967 --sigma 1.2 --steps 100 --delta 1e-5
		--method pld)
	set_tests_properties(privfl_accountant_pld PROPERTIES
		PASS_REGULAR_EXPRESSION "^epsilon=1\\.70[0-9]* error=[0-9.e+-]* order=nan\n$")
	add_test(NAME privfl_accountant_solve_sigma COMMAND privfl accountant
		--q 0.03547147502216967 --steps 100 --delta 1e-5
		--target-epsilon 2 --solve sigma)
	set_tests_properties(privfl_accountant_solve_sigma PROPERTIES
		PASS_REGULAR_EXPRESSION "^sigma=1\\.19[0-9]* epsilon=1\\.99[0-9]* order=")
	add_test(NAME privfl_accountant_solve_steps COMMAND privfl accountant
		--q 0.03547147502216967 --sigma 1.2 --delta 1e-5
		--target-epsilon 1.98612 --solve steps)
	set_tests_properties(privfl_accountant_solve_steps PROPERTIES
		PASS_REGULAR_EXPRESSION "^steps=100 epsilon=1\\.98611")
	add_test(NAME privfl_accountant_batch COMMAND privfl accountant
		--batch ${CMAKE_CURRENT_SOURCE_DIR}/vectors/privacy/batch.csv)
	set_tests_properties(privfl_accountant_batch PROPERTIES
		PASS_REGULAR_EXPRESSION "delta,epsilon,best_order\n0\\.03547147502216967,1\\.2,100,1e-5,1\\.98611[0-9]*,7\\.8\n0\\.01,1\\.1,1000,1e-5,1\\.71177[0-9]*,9\\.6\n$")
	add_test(NAME privfl_accountant_bad_q COMMAND privfl accountant
		--q 2 --sigma 1 --steps 1 --delta 1e-5)
	set_tests_properties(privfl_accountant_bad_q PROPERTIES WILL_FAIL TRUE)
endif()
