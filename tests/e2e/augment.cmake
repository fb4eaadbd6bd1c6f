# Data augmentation of image inputs, augment = images(...) (tests/e2e/augment.sh).
foreach(mode seed resume errors)
  add_test(NAME e2e_augment_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/augment.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_augment_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
