# Validation split and data normalisation (tests/e2e/valid.sh).
foreach(mode split normalize resume errors)
  add_test(NAME e2e_valid_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/valid.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_valid_${mode} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
