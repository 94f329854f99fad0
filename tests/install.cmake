# What an operator installs and reads (issue #14): the man pages' settings
# and --help agree with the programs' tables (the installed units are
# checked by install_check, dist/check-install.sh, in ops.cmake), and what
# the aggregator says when it ends, and what README and SIMULATOR.md say.
add_test(NAME docs_man_uptodate
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs_man_uptodate.sh
	${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(docs_man_uptodate PROPERTIES TIMEOUT 60)
# The aggregator's summary line at the end (all rounds, SIGTERM; the
# budget in budget_exit) and /status without DP (issue #14 item 10).
add_test(NAME agg_summary
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ops14_agg_summary.sh
	${PROJECT_BINARY_DIR})
set_tests_properties(agg_summary PROPERTIES TIMEOUT 240 LABELS integration)
# README names exactly the packages each make target installs.
add_test(NAME readme_deps
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ops14_readme_deps.sh
	${PROJECT_SOURCE_DIR})
set_tests_properties(readme_deps PROPERTIES TIMEOUT 30)
# SIMULATOR.md: train_loss is nan under secure aggregation or DP, and why.
add_test(NAME train_loss_column
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ops14_train_loss.sh
	${PROJECT_BINARY_DIR})
set_tests_properties(train_loss_column PROPERTIES TIMEOUT 240
	LABELS integration)
