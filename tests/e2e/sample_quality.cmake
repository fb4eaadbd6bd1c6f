# Generated images scored by a classifier: trained GAN and VAE above untrained (tests/e2e/sample_quality.sh).
add_test(NAME e2e_sample_quality COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/sample_quality.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_sample_quality PROPERTIES LABELS e2e TIMEOUT 300)
