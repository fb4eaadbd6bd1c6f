# SVG plots: train --log/--plot and nnc plot, overlays and trajectories (tests/e2e/plot.sh).
add_test(NAME e2e_plot
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/plot.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_plot PROPERTIES LABELS e2e TIMEOUT 300)
