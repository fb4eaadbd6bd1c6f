# The compiler against hostile files, output paths and programs
# (tests/e2e/frontend.sh).
foreach(mode nonregular output build-atomic plot-files stdout deep grad-numerics help)
  add_test(NAME e2e_frontend_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/frontend.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_frontend_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
