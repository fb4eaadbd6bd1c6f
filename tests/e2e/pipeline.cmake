# The lecture-2 examples through the whole pipeline (tests/e2e/pipeline.sh).
foreach(mode info xor fashion grad-ce llvm units passes save-load determinism threads)
  add_test(NAME e2e_pipeline_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pipeline.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_pipeline_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 600)
endforeach()
