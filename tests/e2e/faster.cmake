# The two-stage detector learns (mAP@0.5 on held-out shapes), predict and the picture (tests/e2e/faster.sh).
add_test(NAME e2e_faster COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/faster.sh $<TARGET_FILE:nnc>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_faster PROPERTIES LABELS e2e TIMEOUT 600)
