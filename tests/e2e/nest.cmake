# Row nests train to the same bits as flat loops and unfused code, on 1 and 2 threads (tests/e2e/nest.sh).
add_test(NAME e2e_row_nests COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/nest.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_row_nests PROPERTIES LABELS e2e TIMEOUT 300)
