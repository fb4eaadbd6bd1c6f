# nnc export: ONNX files of the lecture 2, 5 and 7 examples pass the checker
# and match OUT predict; unsupported ops and bad arguments are clear errors
# (tests/e2e/onnx.sh; skipped without python3-onnx or protobuf-c).
foreach(mode lecture02 lecture05 lecture07a lecture07b ops errors)
  add_test(NAME e2e_onnx_${mode}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/onnx.sh $<TARGET_FILE:nnc> ${mode}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(e2e_onnx_${mode} PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
