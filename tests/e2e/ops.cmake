# Forward values of primitives against numbers worked out by hand (tests/e2e/ops.sh).
foreach(mode detect cumsum embedding stack masked matmul softmax mask lrn division pool)
  add_test(NAME e2e_ops_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/ops.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_ops_${mode} PROPERTIES LABELS e2e TIMEOUT 120)
endforeach()
