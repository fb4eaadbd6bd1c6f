# The `grads` command's norms against hand-computed gradients (tests/e2e/grads.sh).
add_test(NAME e2e_grads COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/grads.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_grads PROPERTIES LABELS e2e TIMEOUT 120)
