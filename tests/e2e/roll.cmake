# Repeating work items emitted as loops keep the bits (tests/e2e/roll.sh).
add_test(NAME e2e_roll COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/roll.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_roll PROPERTIES LABELS e2e TIMEOUT 300)
