# A train block's metrics in progress, final line, log and plot (tests/e2e/metrics.sh).
add_test(NAME e2e_metrics COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/metrics.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_metrics PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300)
