# nnc build --profile: a per-item time table after training, same bits (tests/e2e/profile.sh).
add_test(NAME e2e_profile COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/profile.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_profile PROPERTIES LABELS e2e TIMEOUT 300)
