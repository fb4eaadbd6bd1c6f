# nnc emit dot renders with Graphviz (tests/e2e/dot.sh).
add_test(NAME e2e_dot COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/dot.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_dot PROPERTIES LABELS e2e TIMEOUT 120)
