# A missing data file is a build-time warning with a near name (tests/e2e/data_path.sh).
add_test(NAME e2e_data_path COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/data_path.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_data_path PROPERTIES LABELS e2e TIMEOUT 60)
