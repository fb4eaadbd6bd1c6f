# A state carried across batches is PyTorch's truncated BPTT (tests/e2e/torch_tbptt.sh).
add_test(NAME e2e_torch_tbptt COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_tbptt.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_tbptt PROPERTIES LABELS e2e TIMEOUT 120)
