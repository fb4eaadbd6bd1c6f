# PyTorch's optimizer options against torch.optim's trajectories (tests/e2e/torch_optim.sh).
add_test(NAME e2e_torch_optim COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_optim.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_optim PROPERTIES LABELS e2e TIMEOUT 120)
