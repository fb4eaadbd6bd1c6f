# Text generation from a trained character LSTM (tests/e2e/sample.sh).
add_test(NAME e2e_sample COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/sample.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_sample PROPERTIES LABELS e2e TIMEOUT 300)
