# Early stopping on the validation loss (tests/e2e/earlystop.sh).
foreach(mode stop restore resume errors)
  add_test(NAME e2e_earlystop_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/earlystop.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_earlystop_${mode} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
