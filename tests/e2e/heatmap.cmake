# OUT show draws maps of a program without image input as heat maps (tests/e2e/heatmap.sh).
add_test(NAME e2e_show_heatmap COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/heatmap.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_show_heatmap PROPERTIES LABELS e2e TIMEOUT 60)
