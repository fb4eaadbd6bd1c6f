# The examples of lectures 2-9 added for issues 15, 16 and 19 build and learn (tests/e2e/examples.sh).
foreach(mode schedules l1 calibration receptive dropconnect vae adding charlm bert)
  add_test(NAME e2e_examples_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/examples.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_examples_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
