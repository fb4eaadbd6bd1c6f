# examples/lecture11/detector: the shapes generator is seeded and the RoI head learns (tests/e2e/detector.sh).
add_test(NAME e2e_detector COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/detector.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_detector PROPERTIES LABELS e2e TIMEOUT 120)
