# f64 models of stdlib layers build, train and pass gradcheck without --f64 (tests/e2e/model_dtype.sh).
add_test(NAME e2e_model_dtype COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/model_dtype.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_model_dtype PROPERTIES LABELS e2e TIMEOUT 300)
