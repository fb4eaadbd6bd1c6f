# OUT sample of an image model writes a reproducible PNG grid (tests/e2e/sample_images.sh).
add_test(NAME e2e_sample_images COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/sample_images.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_sample_images PROPERTIES LABELS e2e TIMEOUT 60)
