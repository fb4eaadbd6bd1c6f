# A generated 300-layer program builds and trains (tests/e2e/deep.sh).
add_test(NAME e2e_deep_300_layers COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/deep.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_deep_300_layers PROPERTIES LABELS e2e TIMEOUT 300)
