# Several objectives: resume, seeds, the reference step, gradcheck (tests/e2e/objectives.sh).
add_test(NAME e2e_objectives COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/objectives.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_objectives PROPERTIES LABELS e2e TIMEOUT 120)
