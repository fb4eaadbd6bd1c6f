# stdlib's TransformerEncoderLayer against PyTorch's numbers (tests/e2e/torch_transformer.sh).
add_test(NAME e2e_torch_transformer COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_transformer.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_transformer PROPERTIES LABELS e2e TIMEOUT 120)
