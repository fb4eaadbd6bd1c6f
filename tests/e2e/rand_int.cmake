# rand_int draws uniform, seeded integers (tests/e2e/rand_int.sh).
add_test(NAME e2e_rand_int COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/rand_int.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_rand_int PROPERTIES LABELS e2e TIMEOUT 60)
