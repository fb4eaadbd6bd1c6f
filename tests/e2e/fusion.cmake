# Fusion on and off train to the same bits (tests/e2e/fusion.sh).
add_test(NAME e2e_fusion_same_bits COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/fusion.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_fusion_same_bits PROPERTIES LABELS e2e TIMEOUT 300)
