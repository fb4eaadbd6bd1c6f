# The lane order of long reductions on the CPU, against python3 (tests/e2e/lanes.sh).
add_test(NAME e2e_lanes
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/lanes.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_lanes PROPERTIES LABELS e2e TIMEOUT 120)
