# Train/eval behaviour of dropout and the normalisers (tests/e2e/modes.sh).
foreach(mode dropout norms bn-ckpt)
  add_test(NAME e2e_modes_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/modes.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_modes_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
