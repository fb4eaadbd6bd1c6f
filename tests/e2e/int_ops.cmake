# Integer element-wise arithmetic computes what the language says (tests/e2e/int_ops.sh).
add_test(NAME e2e_int_ops COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/int_ops.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_int_ops PROPERTIES LABELS e2e TIMEOUT 120)
