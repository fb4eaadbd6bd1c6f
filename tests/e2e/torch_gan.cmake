# A GAN step of two objectives against PyTorch's numbers (tests/e2e/torch_gan.sh).
add_test(NAME e2e_torch_gan COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/torch_gan.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_torch_gan PROPERTIES LABELS e2e TIMEOUT 120)
