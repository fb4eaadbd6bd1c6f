# A `for` kept as a loop against the unrolled loop (tests/e2e/scan.sh).
add_test(NAME e2e_scan COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scan.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_scan PROPERTIES LABELS e2e TIMEOUT 300)
