# Checkpoint resume, corrupt data and checkpoints, data error order (tests/e2e/files.sh).
foreach(mode resume corrupt-idx corrupt-ckpt corrupt-csv corrupt-npy threads-conv load-order)
  add_test(NAME e2e_files_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/files.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_files_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
