# nesterov's look-ahead form (lookahead = 1) walks PyTorch's nesterov points in other coordinates (tests/e2e/lookahead.sh).
add_test(NAME e2e_lookahead
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/lookahead.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_lookahead PROPERTIES LABELS e2e TIMEOUT 120)
