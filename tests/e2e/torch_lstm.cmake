# stdlib's LSTM against PyTorch's numbers (tests/e2e/torch_lstm.sh).
add_test(NAME e2e_torch_lstm COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_lstm.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_lstm PROPERTIES LABELS e2e TIMEOUT 120)
# the same with the loop unrolled (NNC_SCAN=0; by default it is a scan whose
# backward loop is derived from its body)
add_test(NAME e2e_torch_lstm_unroll COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_lstm.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_lstm_unroll PROPERTIES LABELS e2e TIMEOUT 120 ENVIRONMENT NNC_SCAN=0)
