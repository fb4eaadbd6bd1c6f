# The text(...) data source (tests/e2e/text.sh).
foreach(mode align learn ckpt words errors)
  add_test(NAME e2e_text_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/text.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_text_${mode} PROPERTIES LABELS e2e TIMEOUT 300)
endforeach()
