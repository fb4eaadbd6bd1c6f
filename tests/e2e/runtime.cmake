# What a compiled program does with hostile files, streams and signals
# (tests/e2e/runtime.sh; issue 18's runtime items).
foreach(mode outputs overlap streams disk-full inputs nonfinite ckpt-meta labels sigterm-save)
  add_test(NAME e2e_runtime_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/runtime.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_runtime_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
