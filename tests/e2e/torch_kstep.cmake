# k discriminator steps per generator step against PyTorch's numbers (tests/e2e/torch_kstep.sh).
add_test(NAME e2e_torch_kstep COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_kstep.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_kstep PROPERTIES LABELS e2e TIMEOUT 120)
